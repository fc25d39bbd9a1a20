package tests

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"
)

// TestAdoptsInheritedListeners starts sockd under systemd-socket-activate,
// which binds the address and passes it with LISTEN_FDS: sockd adopts the
// inherited socket for the unit that listens there instead of binding
// again (which would fail with EADDRINUSE), and serves the client whose
// connection started sockd.
func TestAdoptsInheritedListeners(t *testing.T) {
	t.Parallel()
	needTools(t, "systemd-socket-activate")
	e := newEnv(t)
	p, other := freePort(t), freePort(t)
	e.unit("adopted", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p)}, []string{e.probe()})
	e.unit("bound", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", other)}, []string{e.probe()})
	s := e.startCmd("systemd-socket-activate", "-l", fmt.Sprintf("127.0.0.1:%d", p),
		sockdBin, "--units", e.unitDir, "--runtime-dir", e.runtimeDir, "--log-level", "debug")
	// systemd-socket-activate binds, then execs sockd on the first
	// connection: wait until it listens.
	addr := fmt.Sprintf("127.0.0.1:%d", p)
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("tcp4", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("systemd-socket-activate does not listen on %s", addr)
	}
	got := mustAsk(t, "tcp4", addr)
	pid := checkAnswer(t, got, "adopted.socket")
	s.waitLog(5*time.Second, msgIs("sockd ready"))
	if r := s.records(msgIs("adopting inherited sockets")); len(r) != 1 || r[0].get("count") != "1" {
		t.Errorf("adoption records = %v; want one with count=1", r)
	}
	if r := s.records(msgIs("unit failed")); len(r) != 0 {
		t.Errorf("a unit failed: %v", r[0].get("err"))
	}
	rep := onlyReport(t, e, pid)
	if !slices.Contains(rep.Env, fmt.Sprintf("LISTEN_PID=%d", pid)) {
		t.Errorf("service environment %q lacks LISTEN_PID=%d (sockd must not pass its own LISTEN_* on)", rep.Env, pid)
	}
	checkAnswer(t, mustAsk(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", other)), "bound.socket")
}
