// Command fdprobe is the per-connection service of tests/accept. It
// reports, as one JSON line on its connection, what it got from sockd:
// its pid, arguments, the socket-activation environment, and every open
// fd with its target and whether it was inherited (not close-on-exec)
// when the program started. It takes the connection with go-systemd's
// activation.Files (fd 3, LISTEN_PID checked) or, inetd style, uses
// stdout. With the argument "hold" it then reads the connection to end
// of file before exiting.
package main

import (
	"encoding/json"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"
)

// Report is what fdprobe writes.
type Report struct {
	Pid  int
	Args []string
	Env  map[string]string // REMOTE_*, LISTEN_* (before activation.Files unsets them)
	// FDs maps each fd open at start-up to its /proc/self/fd target.
	FDs map[int]string
	// Inherited lists the fds that were not close-on-exec at start-up.
	Inherited []int
	// Names are the names activation.Files gave the passed fds.
	Names []string
}

func main() {
	r := Report{Pid: os.Getpid(), Args: os.Args[1:], Env: map[string]string{}}
	r.FDs, r.Inherited = scanFDs()
	for _, k := range []string{"REMOTE_ADDR", "REMOTE_PORT", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID"} {
		if v, ok := os.LookupEnv(k); ok {
			r.Env[k] = v
		}
	}
	var conn io.ReadWriter = struct {
		io.Reader
		io.Writer
	}{os.Stdin, os.Stdout}
	if files := activation.Files(true); len(files) > 0 {
		conn = files[0]
		for _, f := range files {
			r.Names = append(r.Names, f.Name())
		}
	}
	if err := json.NewEncoder(conn).Encode(&r); err != nil {
		os.Exit(1)
	}
	if slices.Contains(os.Args[1:], "hold") {
		io.Copy(io.Discard, conn)
	}
}

// scanFDs looks at fds 0–1023 with fcntl before the program opens any of
// its own (the Go runtime's own are close-on-exec and left out).
func scanFDs() (map[int]string, []int) {
	fds := map[int]string{}
	var inherited []int
	for fd := 0; fd < 1024; fd++ {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || fl&unix.FD_CLOEXEC != 0 {
			continue
		}
		inherited = append(inherited, fd)
		fds[fd], _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	}
	return fds, inherited
}
