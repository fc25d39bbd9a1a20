package security_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/controlserver"
	"github.com/sockd/sockd/tests/internal/e2e"
)

// hold opens args[1] connections to the control socket args[0], sends a
// request on each and reads the status line, then prints "ready OK
// REFUSED" (how many got 200 and 503) and holds them until stdin closes.
func hold(args []string) error {
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	var conns []net.Conn
	ok, refused := 0, 0
	for range n {
		c, err := net.Dial("unix", args[0])
		if err != nil {
			return err
		}
		conns = append(conns, c)
		fmt.Fprint(c, "GET /v1/units HTTP/1.1\r\nHost: sockd\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			refused++
		default:
			return fmt.Errorf("status %s", resp.Status)
		}
	}
	fmt.Printf("ready %d %d\n", ok, refused)
	os.Stdin.Read(make([]byte, 1))
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// TestControlConnectionsAreCapped is finding 8 of issue 16: 10,000 idle
// control connections were accepted with no cap. Now a member of the
// control group (nobody, in nogroup) gets MaxConnsPerUID of them, the
// rest are answered 503, and root is still served.
func TestControlConnectionsAreCapped(t *testing.T) {
	exe := attacker(t)
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: []string{"--control-group", strconv.Itoa(nogroup)}},
		map[string]string{"web.socket": "[Socket]\nListenStream=$WORK/web.sock\n", "web.service": "[Service]\nExecStart=/bin/sleep 1000\n"})
	// Let nobody reach the runtime directory (0710, group nogroup).
	os.Chmod(s.Work, 0o755)
	os.Chmod(filepath.Dir(s.Work), 0o755)
	const n = 3 * controlserver.MaxConnsPerUID
	line := make(chan string, 1)
	stop := asNobodyLine(t, exe, line, "hold", filepath.Join(s.RuntimeDir, "control.sock"), strconv.Itoa(n))
	got := <-line
	want := fmt.Sprintf("ready %d %d", controlserver.MaxConnsPerUID, n-controlserver.MaxConnsPerUID)
	if got != want {
		t.Errorf("nobody opening %d control connections: %q; want %q (ready OK REFUSED)", n, got, want)
	}
	if out, code := sockctl(t, s, "list"); code != 0 || !strings.Contains(out, "web.socket") {
		t.Errorf("root's sockctl list while nobody holds connections: exit %d\n%s", code, out)
	}
	stop()
	if !strings.Contains(s.LogText(), "control connection refused") {
		t.Errorf("the refusals were not logged:\n%.3000s", s.LogText())
	}
	if c := strings.Count(s.LogText(), "control connection refused"); c != 1 {
		t.Errorf("%d refusals logged %d lines; want 1", n-controlserver.MaxConnsPerUID, c)
	}
}
