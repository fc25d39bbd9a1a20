package daemon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// stopUnknownChildren stops the processes the previous generation
// started when their records are lost (the state could not be decoded):
// they are still sockd's children, since an upgrade re-executes in place,
// but no unit knows them, so nothing would ever stop or restart them.
// Each service is its own process group (internal/spawn): the group gets
// SIGTERM, as KillMode=control-group would, and the reaper reaps it.
// Their listeners are adopted, so the units' next instances serve the
// connections that queue meanwhile. d.mu is held; call it before any
// unit starts a process.
func (d *Daemon) stopUnknownChildren() {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	seen := map[int]bool{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(field)
			if err != nil || seen[pid] {
				continue
			}
			seen[pid] = true
			d.log.Warn("stopping a process the previous sockd started, whose unit is unknown after the lost state", "pid", pid)
			if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	}
}
