package accept_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// oneLine is an Accept=yes unit whose instances write one line and exit.
func oneLine(port, maxConn int, extra string) map[string]string {
	return map[string]string{
		"one.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\nMaxConnections=%d\nTriggerLimitBurst=0\n%s", port, maxConn, extra),
		"one@.service": "[Service]\nExecStart=/bin/echo hello\nStandardInput=socket\n",
	}
}

// serveMany makes n connections, c at a time, each of which must be
// answered "hello".
func serveMany(t *testing.T, addr string, n, c int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range c {
		wg.Go(func() {
			for range next {
				conn := dial(t, "tcp4", addr, "")
				got, err := readAll(conn, 10*time.Second)
				conn.Close()
				if err != nil || got != "hello\n" {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%q %v", got, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d of %d connections not served, e.g. %s", len(bad), n, bad[0])
	}
}

// quiet waits until sockd has no child process left: every instance has
// exited and was reaped.
func (e *env) quiet(t *testing.T) {
	t.Helper()
	e.waitFor("no instance left", func() bool { return len(children(t, e.Pid())) == 0 })
}

// TestNoLeaks: 1,000 sequential and 1,000 concurrent connections (50 at
// a time) leave sockd with no more fds, no zombie, and no more than a
// few MB of memory than before (measured after a first such round, once
// the Go heap has grown to its working size).
func TestNoLeaks(t *testing.T) {
	port := freePort(t)
	e := startBinary(t, bin("sockd"), oneLine(port, 100, "")) // not the -race build: memory is measured
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Warm up with the same load: goroutine stacks, buffers and the Go
	// heap settle after the first round.
	serveMany(t, addr, 1000, 1)
	serveMany(t, addr, 1000, 50)
	e.quiet(t)
	fds, rss := e.fdCount(), rssKB(t, e.Pid())

	serveMany(t, addr, 1000, 1)
	serveMany(t, addr, 1000, 50)
	e.quiet(t)
	if z := zombies(t, e.Pid()); len(z) > 0 {
		t.Errorf("zombies: %v", z)
	}
	if u := e.unit("one.socket"); u.Activations != 4000 || u.Refused != 0 {
		t.Errorf("accepted %d, refused %d; want 4000, 0", u.Activations, u.Refused)
	}
	after := e.fdCount()
	if after != fds {
		t.Errorf("sockd has %d fds, %d before", after, fds)
	}
	grown := rssKB(t, e.Pid()) - rss
	t.Logf("fds %d → %d, VmRSS %d kB → %+d kB", fds, after, rss, grown)
	if grown > 4*1024 {
		t.Errorf("VmRSS grew by %d kB", grown)
	}
}

func rssKB(t *testing.T, pid int) int {
	v := strings.TrimSuffix(procStatus(t, pid, "VmRSS"), " kB")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
