package sockctl_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockd/sockd/tests/internal/e2e"
)

// clientLoop sends HTTP requests to url until stop is closed and counts
// every failure: refused, reset, timed out or a wrong answer. After each
// answer it leaves a token in answered, if there is room.
func clientLoop(url string, stop <-chan struct{}, answered chan<- struct{}) (ok, failed int, firstErr error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		select {
		case <-stop:
			return ok, failed, firstErr
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr != nil || !strings.HasPrefix(string(body), "hello from pid") {
				err = fmt.Errorf("wrong answer %q (%v)", body, rerr)
			}
		}
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ok++
		select {
		case answered <- struct{}{}:
		default:
		}
	}
}

// nextAnswer waits until the client loop answers a request sent after
// the call.
func nextAnswer(t *testing.T, answered chan struct{}, after string) {
	t.Helper()
	select { // a token left from before
	case <-answered:
	default:
	}
	select { // a request still in flight then: the one after it
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatalf("no request answered within 10s after %s", after)
	}
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatalf("no request answered within 10s after %s", after)
	}
}

// TestReload checks the atomic reload under load: a valid change is
// applied (a unit added, a service setting changed for the next start)
// and an invalid one changes nothing and reports path:line, while a
// client of the unchanged listener never sees a failure.
func TestReload(t *testing.T) {
	port := e2e.FreePort(t)
	e := startSockd(t, map[string]string{
		"web.socket":  fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port),
		"web.service": "[Service]\nType=notify\nExecStart=" + filepath.Join(binDir, "hello-http") + "\n",
	})
	units := filepath.Join(e.work, "units")
	writeUnit := func(name, content string) {
		if err := os.WriteFile(filepath.Join(units, name), []byte(strings.ReplaceAll(content, "$WORK", e.work)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed int
	var firstErr error
	answered := make(chan struct{}, 1)
	wg.Add(1)
	go func() { defer wg.Done(); ok, failed, firstErr = clientLoop(url, stop, answered) }()

	nextAnswer(t, answered, "the start") // the loop started the service
	pid := e.waitState("web.service", "active", "running").MainPID

	// A new unit, and a service change for web: applied; web keeps its
	// listener and its running service.
	writeUnit("extra.socket", "[Socket]\nListenStream=$WORK/extra.sock\n")
	writeUnit("extra.service", "[Service]\nExecStart=/bin/true\n")
	writeUnit("web.service", "[Service]\nType=notify\nEnvironment=CHANGED=1\nExecStart="+filepath.Join(binDir, "hello-http")+"\n")
	e.want(0, []string{"reload"})
	e.want(0, []string{"is-active", "extra.socket"})
	if got := e.waitState("web.service", "active", "running").MainPID; got != pid {
		t.Errorf("reload restarted web.service: pid %d → %d", pid, got)
	}

	// A removed unit: its listener closes, web serves on.
	writeUnit("gone.socket", "[Socket]\nListenStream=$WORK/gone.sock\n")
	writeUnit("gone.service", "[Service]\nExecStart=/bin/true\n")
	e.want(0, []string{"reload"})
	e.want(0, []string{"is-active", "gone.socket"})
	os.Remove(filepath.Join(units, "gone.socket"))
	os.Remove(filepath.Join(units, "gone.service"))
	e.want(0, []string{"reload"})
	e.want(4, []string{"is-active", "gone.socket"})
	if c, err := net.Dial("unix", filepath.Join(e.work, "gone.sock")); err == nil {
		c.Close()
		t.Errorf("gone.sock still accepts connections after its unit was removed")
	}

	// A broken unit: the reload is refused with path:line, nothing changes.
	writeUnit("broken.socket", "[Socket]\nListenStream=127.0.0.1:99999\n")
	writeUnit("broken.service", "[Service]\nExecStart=/bin/true\n")
	os.Remove(filepath.Join(units, "extra.socket"))
	r := e.want(1, []string{"reload"})
	if want := filepath.Join(units, "broken.socket") + ":2: [Socket] ListenStream:"; !strings.Contains(r.stderr, want) {
		t.Errorf("reload of a broken unit: stderr %q lacks %q", r.stderr, want)
	}
	e.want(0, []string{"is-active", "extra.socket"}) // still there: nothing changed
	e.want(4, []string{"is-active", "broken.socket"})

	nextAnswer(t, answered, "the refused reload")
	close(stop)
	wg.Wait()
	t.Logf("client loop: %d requests answered, %d failed", ok, failed)
	if failed > 0 || ok == 0 {
		t.Errorf("client loop during reloads: %d ok, %d failed (first: %v)", ok, failed, firstErr)
	}
}
