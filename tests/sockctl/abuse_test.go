package sockctl_test

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// TestControlSocketAbuse sends garbage, an oversized request and a
// stalled one to a real sockd's control socket: each gets an error or is
// cut off, and sockd serves on (sockctl list still answers, quickly).
func TestControlSocketAbuse(t *testing.T) {
	e := startSockd(t, testUnits)
	sock := filepath.Join(e.rt, control.SocketName)
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}
	// status returns the first line of the answer, or "" when the
	// server closed the connection without answering.
	status := func(c net.Conn) string {
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}

	garbage := dial()
	garbage.Write([]byte("\x00\x01\x02 not http at all\r\n\r\n"))
	if got := status(garbage); !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Errorf("garbage: answer %q; want a 400", got)
	}
	garbage.Close()

	badJSON := dial()
	badJSON.Write([]byte("POST /v1/reload HTTP/1.1\r\nHost: sockd\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{{{{{"))
	if got := status(badJSON); !strings.HasPrefix(got, "HTTP/1.1 4") {
		t.Errorf("malformed body: answer %q; want a 4xx", got)
	}
	badJSON.Close()

	big := dial()
	big.Write([]byte("GET /v1/units HTTP/1.1\r\nHost: sockd\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n"))
	if got := status(big); got != "" && !strings.HasPrefix(got, "HTTP/1.1 431") && !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Errorf("oversized header: answer %q; want 431, 400 or a closed connection", got)
	}
	big.Close()

	// A stalled client: half a request line, then nothing. It must not
	// keep sockd from serving others, and it is cut off by a timeout.
	stalled := dial()
	stalled.Write([]byte("GET /v1/un"))
	start := time.Now()
	r := e.want(0, []string{"list", "--no-legend"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("sockctl list took %v while a client stalled", d)
	}
	if !strings.Contains(r.stdout, "web.socket") {
		t.Errorf("sockctl list after abuse:\n%s", r.stdout)
	}
	// The server answers 400 or 408 (net/http on a header timeout) or just
	// closes; either way, before our own
	// 20 s deadline.
	if got := status(stalled); (got != "" && !strings.HasPrefix(got, "HTTP/1.1 408") && !strings.HasPrefix(got, "HTTP/1.1 400")) || time.Since(start) > 19*time.Second {
		t.Errorf("stalled client: answer %q after %v; want 400/408 or a close before the deadline", got, time.Since(start))
	}
	stalled.Close()
	t.Logf("stalled client cut off after %v", time.Since(start).Round(time.Millisecond))
}
