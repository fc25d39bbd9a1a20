// Command tinysvc is the service the activation benchmarks start: it takes
// its listening socket from the service manager with go-systemd's
// activation package (LISTEN_FDS), accepts one connection, writes one line
// and exits. Started by sockd or by systemd-socket-activate, each run of it
// is one activation.
//
// The line is
//
//	tinysvc pid=PID main=NS accepted=NS
//
// where main is CLOCK_MONOTONIC (nanoseconds) when main started, i.e.
// after the Go runtime and the package initialisation, and accepted is
// when Accept returned. The benchmark client uses them to split the
// activation latency into "until the service runs Go code" and "the
// service's own work".
//
// With TINYSVC_CONNS=N it serves N connections before exiting.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"
)

func mono() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func main() {
	start := mono()
	ls, err := activation.Listeners()
	if err != nil || len(ls) == 0 || ls[0] == nil {
		fmt.Fprintln(os.Stderr, "tinysvc: no listening socket passed (LISTEN_FDS):", err)
		os.Exit(1)
	}
	conns := 1
	if n, err := strconv.Atoi(os.Getenv("TINYSVC_CONNS")); err == nil && n > 0 {
		conns = n
	}
	for range conns {
		c, err := ls[0].Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tinysvc:", err)
			os.Exit(1)
		}
		accepted := mono()
		fmt.Fprintf(c, "tinysvc pid=%d main=%d accepted=%d\n", os.Getpid(), start, accepted)
		c.Close()
	}
}
