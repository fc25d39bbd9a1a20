package main

import (
	"os"
	"syscall"
)

// stopSignals make sockd stop every service within its stop timeout,
// close the listeners and exit 0. SIGTERM is what a container runtime,
// Kubernetes and every service manager send; SIGINT is Ctrl-C (and what
// a container runtime sends for STOPSIGNAL SIGINT); SIGPWR is how LXC
// and sysvinit's powerfail ask PID 1 to shut down (systemd starts
// sigpwr.target, which in a container means stopping). As PID 1 the
// kernel delivers only the signals sockd handles, so each of these must
// be listed here to have any effect.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR}
