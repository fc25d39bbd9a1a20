package sockets_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFailedSocketRefuses: once a unit failed for good (its trigger
// limit, here 2 activations an hour), a client is refused at once, not
// left hanging in a backlog nobody serves; status says the listener is
// closed; `sockctl start` binds it again and the next client is served.
func TestFailedSocketRefuses(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"lim.socket":  "[Socket]\nListenStream=$WORK/lim.sock\nTriggerLimitBurst=2\nTriggerLimitIntervalSec=1h\nPollLimitBurst=0\n",
		"lim.service": "[Service]\n" + probe("lim", "-conns", "1") + "\n",
	})
	if err := os.MkdirAll(filepath.Join(e.Work, "reports/lim"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(e.Work, "lim.sock")
	for i := range 2 {
		if got, err := askUnix(sock, 10*time.Second); err != nil || !strings.HasPrefix(got, "probe ") {
			t.Fatalf("connection %d: %q, %v", i, got, err)
		}
		e.waitFor("listening again", func() bool { return e.unit("lim.socket").State == "listening" })
	}
	// The third activation hits the limit: that client was queued, and
	// its connection goes with the closed listener.
	if got, err := askUnix(sock, 10*time.Second); err == nil {
		t.Errorf("third connection answered %q; want it closed by the failed unit", got)
	}
	e.waitFor("failed", func() bool { return e.unit("lim.socket").Result == "trigger-limit-hit" })
	begin := time.Now()
	_, err := net.DialTimeout("unix", sock, 5*time.Second)
	if took := time.Since(begin); !errors.Is(err, syscall.ECONNREFUSED) || took > 100*time.Millisecond {
		t.Errorf("connecting to the failed unit: %v after %v; want ECONNREFUSED within 100ms", err, took)
	}
	u := e.unit("lim.socket")
	if len(u.Listeners) != 1 || !u.Listeners[0].Closed {
		t.Errorf("status listeners %+v; want the one listener shown closed", u.Listeners)
	}
	out, _ := e.sockctl("status", "lim.socket")
	if !strings.Contains(out, "closed: connections are refused") {
		t.Errorf("sockctl status does not say the listener is closed:\n%s", out)
	}
	if out, code := e.sockctl("start", "lim.socket"); code != 0 {
		t.Fatalf("sockctl start lim.socket: exit %d: %s", code, out)
	}
	if got, err := askUnix(sock, 10*time.Second); err != nil || !strings.HasPrefix(got, "probe ") {
		t.Errorf("after sockctl start: %q, %v; want an answer", got, err)
	}
	if u := e.unit("lim.socket"); u.Listeners[0].Closed {
		t.Errorf("after sockctl start the listener is still shown closed")
	}
}

// TestRestartPendingQueues: while a restart is pending (RestartSec=), the
// listener stays open: a client that connects then waits in the backlog
// and is served by the restarted service.
func TestRestartPendingQueues(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"rs.socket":  "[Socket]\nListenStream=$WORK/rs.sock\nPollLimitBurst=0\n",
		"rs.service": "[Service]\nRestart=always\nRestartSec=1s\n" + probe("rs", "-conns", "1") + "\n",
	})
	if err := os.MkdirAll(filepath.Join(e.Work, "reports/rs"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(e.Work, "rs.sock")
	first, err := askUnix(sock, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("a restart pending", func() bool { return e.unit("rs.socket").State == "auto-restart" })
	got, err := askUnix(sock, 10*time.Second)
	if err != nil || !strings.HasPrefix(got, "probe ") || got == first {
		t.Errorf("during RestartSec=: %q, %v; want an answer from the restarted service (the first was %q)", got, err, first)
	}
}

// TestFailedAcceptSocketRefuses is the case: an Accept=yes unit
// hit its trigger limit; the next client is refused within 100 ms rather
// than hanging, until `sockctl start`.
func TestFailedAcceptSocketRefuses(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"acc.socket":   "[Socket]\nListenStream=$WORK/acc.sock\nAccept=yes\nTriggerLimitBurst=3\nTriggerLimitIntervalSec=1h\n",
		"acc@.service": "[Service]\nExecStart=/bin/echo hi\nStandardInput=socket\n",
	})
	sock := filepath.Join(e.Work, "acc.sock")
	for i := range 3 {
		if got, err := askUnix(sock, 10*time.Second); err != nil || got != "hi" {
			t.Fatalf("connection %d: %q, %v", i, got, err)
		}
	}
	askUnix(sock, 10*time.Second) // the fourth trips the limit
	e.waitFor("failed", func() bool { return e.unit("acc.socket").Result == "trigger-limit-hit" })
	begin := time.Now()
	_, err := net.DialTimeout("unix", sock, 5*time.Second)
	if took := time.Since(begin); !errors.Is(err, syscall.ECONNREFUSED) || took > 100*time.Millisecond {
		t.Errorf("connecting to the failed unit: %v after %v; want ECONNREFUSED within 100ms", err, took)
	}
	if out, code := e.sockctl("start", "acc.socket"); code != 0 {
		t.Fatalf("sockctl start acc.socket: exit %d: %s", code, out)
	}
	if got, err := askUnix(sock, 10*time.Second); err != nil || got != "hi" {
		t.Errorf("after sockctl start: %q, %v", got, err)
	}
}
