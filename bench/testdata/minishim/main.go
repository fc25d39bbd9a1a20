// Command minishim is a yardstick, not part of sockd: the least a Go
// spawn shim can do (set LISTEN_PID to its own pid, then execve the
// program), in a binary that links nothing but the runtime, os and
// syscall. sockbench times it next to sockd's real shim (sockd
// re-executing itself) to show what the Go runtime start-up of a small
// binary costs compared with sockd's. Build it with
// go build ./bench/testdata/minishim.
//
// Usage: minishim PROGRAM [ARG]...
package main

import (
	"os"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	env := append(os.Environ(), "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	syscall.Exec(os.Args[1], os.Args[1:], env)
	os.Exit(203)
}
