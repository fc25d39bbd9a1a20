package accept_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listRow is one element of `sockctl list --json`.
type listRow struct {
	Unit              string
	Accepted, Refused int
}

// hold opens a connection to an instance of /bin/cat and checks that it
// is served (it echoes a line back), leaving it open.
func hold(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	c := dial(t, "tcp4", addr, from)
	c.Write([]byte("ping\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 5)
	if _, err := c.Read(buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("connection from %q not served: %q, %v", from, buf, err)
	}
	return c
}

// refused checks that a connection is closed at once without a reply.
func refused(t *testing.T, addr, from string) {
	t.Helper()
	c := dial(t, "tcp4", addr, from)
	c.Write([]byte("ping\n"))
	start := time.Now()
	if got, err := readAll(c, 5*time.Second); got != "" || err != nil {
		t.Errorf("connection from %q over the limit: read %q, %v; want it closed", from, got, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("connection over the limit closed after %v", d)
	}
}

// TestLimits: MaxConnections= counts live instances and
// MaxConnectionsPerSource= counts them per source address; a connection
// over either is closed at once and counted as refused, which sockctl
// list and status show, and live instances can be looked at and stopped
// one by one.
func TestLimits(t *testing.T) {
	pa, pb := freePort(t), freePort(t)
	e := startSockd(t, map[string]string{
		"total.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\nMaxConnections=3\n", pa),
		"total@.service": "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
		"per.socket":     fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\nMaxConnections=10\nMaxConnectionsPerSource=2\n", pb),
		"per@.service":   "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
	})
	a, b := "127.0.0.1:"+strconv.Itoa(pa), "127.0.0.1:"+strconv.Itoa(pb)
	first := hold(t, a, "")
	hold(t, a, "")
	hold(t, a, "")
	refused(t, a, "")
	hold(t, b, "127.0.0.1")
	hold(t, b, "127.0.0.1")
	refused(t, b, "127.0.0.1")
	hold(t, b, "127.0.0.2") // another source
	var rows []listRow
	if err := json.Unmarshal([]byte(e.sockctl("list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	want := []listRow{{"per.socket", 3, 1}, {"total.socket", 3, 1}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("sockctl list --json = %+v; want %+v", rows, want)
	}
	if out := e.sockctl("status", "total.socket"); !strings.Contains(out, "Accepted: 3; Connected: 3; Refused: 1") ||
		strings.Count(out, ".service (pid ") != 3 {
		t.Errorf("sockctl status total.socket (want 3 accepted, 3 live instances listed, 1 refused):\n%s", out)
	}
	if !strings.Contains(e.LogText(), "too many incoming connections (2) from source 127.0.0.1, dropping connection") ||
		!strings.Contains(e.LogText(), "too many incoming connections (3), dropping connection") {
		t.Errorf("refusals not logged:\n%s", e.tail(30))
	}

	// The first instance, by name.
	cport := first.LocalAddr().(*net.TCPAddr).Port
	name := fmt.Sprintf("total@0-127.0.0.1:%d-127.0.0.1:%d.service", pa, cport)
	out := e.sockctl("status", name)
	for _, s := range []string{name, "Active: active (running)", "Main PID: ", fmt.Sprintf("connection from 127.0.0.1:%d", cport)} {
		if !strings.Contains(out, s) {
			t.Errorf("sockctl status %s lacks %q:\n%s", name, s, out)
		}
	}
	e.sockctl("stop", name)
	if got, err := readAll(first, 5*time.Second); err != nil || got != "" {
		t.Errorf("stopped instance's connection: %q, %v", got, err)
	}
	if u := e.unit(name); u.ActiveState != "inactive" {
		t.Errorf("%s after stop: %s", name, u.ActiveState)
	}
	hold(t, a, "") // room for one again
}
