package accept_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestStopKillsInstances: when sockd stops, each live instance gets
// KillSignal= (SIGTERM) for its process group and, if it ignores it,
// SIGKILL after TimeoutStopSec=; sockd exits once they are gone, and
// leaves no process behind.
func TestStopKillsInstances(t *testing.T) {
	port, port2 := freePort(t), freePort(t)
	e := startSockd(t, map[string]string{
		"stub.socket": fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port),
		// The shell ignores SIGTERM; its sleep child is in its group.
		"stub@.service":   "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; echo ready; sleep 100 & wait'\nStandardInput=socket\nTimeoutStopSec=1s\n",
		"polite.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port2),
		"polite@.service": "[Service]\nExecStart=$BIN/fdprobe hold\n",
	})
	for range 3 {
		c := dial(t, "tcp4", "127.0.0.1:"+strconv.Itoa(port), "")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 6)); err != nil {
			t.Fatal(err)
		}
	}
	probe := dial(t, "tcp4", "127.0.0.1:"+strconv.Itoa(port2), "")
	probe.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := probe.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	var procs []int
	e.waitFor("3 shells, 3 sleeps and a probe", func() bool {
		procs = descendants(t, e.Pid())
		return len(procs) == 7
	})
	took := e.Stop()
	if took < time.Second || took > 10*time.Second {
		t.Errorf("sockd stopped in %v; want TimeoutStopSec=1s, then SIGKILL", took)
	}
	for _, pid := range procs {
		if syscall.Kill(pid, 0) == nil && !dead(pid) {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			t.Errorf("process %d survived sockd: %s", pid, stat)
		}
	}
}

// dead reports whether pid is a zombie: killed, and not reaped yet by its
// new parent (a process killed as sockd exits is reparented to PID 1).
func dead(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	return bytes.HasPrefix(rest, []byte(" Z"))
}

// descendants returns every process below pid.
func descendants(t *testing.T, pid int) []int {
	var out []int
	for child := range children(t, pid) {
		out = append(out, child)
		out = append(out, descendants(t, child)...)
	}
	return out
}
