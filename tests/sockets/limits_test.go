package sockets_test

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// askUnix connects to path, reads one line and returns it.
func askUnix(path string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// TestPollLimitPauses: with PollLimitBurst=2 in PollLimitIntervalSec=1s,
// a third activation within the second waits until the window ends and
// is then served; nothing fails (systemd 255's poll limit), though
// TriggerLimit*= is off.
func TestPollLimitPauses(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"poll.socket":  "[Socket]\nListenStream=$WORK/poll.sock\nPollLimitIntervalSec=1s\nPollLimitBurst=2\nTriggerLimitBurst=0\n",
		"poll.service": "[Service]\n" + probe("poll", "-conns", "1") + "\n",
	})
	if err := os.MkdirAll(filepath.Join(e.Work, "reports/poll"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(e.Work, "poll.sock")
	first := time.Now()
	var took []time.Duration
	for i := range 3 {
		begin := time.Now()
		if got, err := askUnix(sock, 10*time.Second); err != nil || !strings.HasPrefix(got, "probe ") {
			t.Fatalf("connection %d: %q, %v", i, got, err)
		}
		took = append(took, time.Since(begin))
		// The answering probe exits (-conns 1): wait until sockd listens
		// again, so that each connection is one activation.
		e.waitFor("listening again", func() bool { return e.unit("poll.socket").State == "listening" })
	}
	if since := time.Since(first); since < time.Second {
		t.Errorf("three activations took %v; want the third after the 1s window", since)
	}
	if took[2] < 300*time.Millisecond {
		t.Errorf("the third connection took %v (the first two %v, %v); want it held until the window ended", took[2], took[0], took[1])
	}
	u := e.unit("poll.socket")
	if u.ActiveState == "failed" || u.Activations != 3 {
		t.Errorf("poll.socket: %s/%s, %d activations; want not failed, 3", u.ActiveState, u.State, u.Activations)
	}
	if !strings.Contains(e.LogText(), "poll limit hit, pausing the listeners") {
		t.Errorf("no log record of the pause:\n%s", e.LogText())
	}
}

// TestFlushPending: a service that exits without taking its connection
// would be started again and again for it; with FlushPending=yes the
// connection is discarded when the socket goes back to listening, so
// there is one activation and the client sees its connection closed.
func TestFlushPending(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"flush.socket":  "[Socket]\nListenStream=$WORK/flush.sock\nFlushPending=yes\nTriggerLimitBurst=0\nPollLimitBurst=0\n",
		"flush.service": "[Service]\n" + probe("flush", "-crash") + "\n",
	})
	if err := os.MkdirAll(filepath.Join(e.Work, "reports/flush"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := askUnix(filepath.Join(e.Work, "flush.sock"), 10*time.Second)
	if err == nil || got != "" {
		t.Errorf("the client read %q, %v; want its connection closed unanswered", got, err)
	}
	e.waitFor("listening again", func() bool { return e.unit("flush.socket").State == "listening" })
	if u := e.unit("flush.socket"); u.Activations != 1 {
		t.Errorf("%d activations; want 1", u.Activations)
	}
	if !strings.Contains(e.LogText(), `msg="flushed pending connections"`) {
		t.Errorf("no log record of the flush:\n%s", e.LogText())
	}
}
