package loadgen

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts an HTTP server on 127.0.0.1 with h, closed when the test
// ends, and returns its address.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func hello(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello from sockd\n") }

// mustRun runs c and fails the test if Run refuses it.
func mustRun(t *testing.T, c Config) *Result {
	t.Helper()
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%v", r)
	return r
}

// want fails the test unless the counts of r are the ones given; a
// class not given must be zero.
func want(t *testing.T, r *Result, counts map[string]int) {
	t.Helper()
	got := map[string]int{"ok": r.OK, "refused": r.Refused, "reset": r.Reset, "timeout": r.Timeout,
		"wrong": r.Wrong, "other": r.Other, "canceled": r.Canceled}
	for k, v := range got {
		if v != counts[k] {
			t.Errorf("%s = %d; want %d (%v)", k, v, counts[k], r)
		}
	}
}

func TestOK(t *testing.T) {
	addr := serve(t, hello)
	r := mustRun(t, Config{Addr: addr, Path: "/x?y=1", Want: "from sockd", Conns: 2, KeepAlive: 2, MaxRequests: 200})
	want(t, r, map[string]int{"ok": 200})
	if r.Failures() != 0 || r.NewConnRequests+r.KeepAliveRequests != 200 {
		t.Errorf("failures %d, requests %d+%d; want 0 and 200 in all", r.Failures(), r.NewConnRequests, r.KeepAliveRequests)
	}
	if r.NewConnDials != r.NewConnRequests {
		t.Errorf("new-connection workers dialled %d times for %d requests; want one dial a request", r.NewConnDials, r.NewConnRequests)
	}
	if r.KeepAliveDials > 2 {
		t.Errorf("keep-alive workers dialled %d times for %d requests; want one connection each", r.KeepAliveDials, r.KeepAliveRequests)
	}
	if r.Latency.Count != 200 || r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("latency %+v; want 200 samples, 0 < p50 <= p99 <= max", r.Latency)
	}
	mid := r.Elapsed / 2
	if a, b := r.Window(0, mid), r.Between(r.Start.Add(mid), r.Start.Add(r.Elapsed)); a.Count+b.Count != 200 {
		t.Errorf("windows split at %v count %d + %d; want 200", mid, a.Count, b.Count)
	}
	var s Summary
	b, _ := json.Marshal(r)
	if err := json.Unmarshal(b, &s); err != nil || s.OK != 200 || s.P50MS <= 0 {
		t.Errorf("JSON %s: decoded %+v, %v", b, s, err)
	}
}

// TestKeepAliveConnection checks that keep-alive workers reuse their
// connection and new-connection workers ask the server to close it.
func TestKeepAliveConnection(t *testing.T) {
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			io.WriteString(w, "close")
		} else {
			io.WriteString(w, "keep-alive")
		}
	})
	r := mustRun(t, Config{Addr: addr, Want: "keep-alive", KeepAlive: 1, MaxRequests: 20})
	want(t, r, map[string]int{"ok": 20})
	r = mustRun(t, Config{Addr: addr, Want: "close", Conns: 1, MaxRequests: 20})
	want(t, r, map[string]int{"ok": 20})
}

// TestDurationAndRate runs for a duration at a rate: each worker starts
// at most one request every 20ms.
func TestDurationAndRate(t *testing.T) {
	addr := serve(t, hello)
	r := mustRun(t, Config{Addr: addr, KeepAlive: 1, Conns: 1, Duration: 200 * time.Millisecond, Rate: 50})
	if n := r.OK; n < 2 || n > 22 || r.Failures() != 0 {
		t.Errorf("%d OK and %d failures in 200ms at 50/s for 2 workers; want 2 to 22 and none", n, r.Failures())
	}
}

func TestRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := mustRun(t, Config{Addr: addr, Conns: 1, KeepAlive: 1, MaxRequests: 10})
	want(t, r, map[string]int{"refused": 10})
	if len(r.Errors["refused"]) == 0 || !strings.Contains(r.Errors["refused"][0], "refused") {
		t.Errorf("refused messages %q; want the connect error", r.Errors["refused"])
	}
}

// TestReset runs against a server that reads the request and closes
// the connection with SO_LINGER 0, which sends a RST.
func TestReset(t *testing.T) {
	addr := serveRaw(t, func(c *net.TCPConn) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 4096))
		c.SetLinger(0)
	})
	r := mustRun(t, Config{Addr: addr, Conns: 1, KeepAlive: 1, MaxRequests: 10})
	want(t, r, map[string]int{"reset": 10})
}

func TestWrongAnswer(t *testing.T) {
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/500" {
			http.Error(w, "hello", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "goodbye")
	})
	r := mustRun(t, Config{Addr: addr, Want: "hello", Conns: 1, KeepAlive: 1, MaxRequests: 6})
	want(t, r, map[string]int{"wrong": 6})
	r = mustRun(t, Config{Addr: addr, Path: "/500", Want: "hello", Conns: 1, MaxRequests: 3})
	want(t, r, map[string]int{"wrong": 3})
	if m := r.Errors["wrong"]; len(m) != 3 || !strings.Contains(m[0], "500") {
		t.Errorf("wrong-answer messages %q; want 3 naming the status", m)
	}
}

// slow returns a handler that answers only when the test ends or the
// client gives up.
func slow(t *testing.T) http.HandlerFunc {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) }) // runs before the server's Close
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
}

func TestTimeout(t *testing.T) {
	addr := serve(t, slow(t))
	r := mustRun(t, Config{Addr: addr, Conns: 1, KeepAlive: 1, MaxRequests: 4, Timeout: 100 * time.Millisecond})
	want(t, r, map[string]int{"timeout": 4})
}

// TestCanceled cancels a run whose requests hang: they count as
// canceled, not as failures, and Run returns at once.
func TestCanceled(t *testing.T) {
	addr := serve(t, slow(t))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r, err := Run(ctx, Config{Addr: addr, Conns: 1, KeepAlive: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, map[string]int{"canceled": 2})
}

func TestConfigRefused(t *testing.T) {
	for _, c := range []Config{
		{Addr: "192.0.2.1:80", Conns: 1, MaxRequests: 1},
		{Addr: "0.0.0.0:80", Conns: 1, MaxRequests: 1},
		{Addr: "[fe80::1%lo]:80", Conns: 1, MaxRequests: 1},
		{Addr: "[::ffff:10.0.0.1]:80", Conns: 1, MaxRequests: 1},
		{Addr: "example.com:80", Conns: 1, MaxRequests: 1},
		{Addr: "127.0.0.1", Conns: 1, MaxRequests: 1},
		{Addr: "127.0.0.1:80", MaxRequests: 1},
		{Addr: "127.0.0.1:80", Conns: 1},
		{Addr: "127.0.0.1:80", Conns: 1, Duration: time.Hour},
		{Addr: "127.0.0.1:80", Conns: 1, MaxRequests: 1, Path: "x"},
		{Addr: "127.0.0.1:80", Conns: -1, KeepAlive: 2, MaxRequests: 1},
	} {
		if r, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v) = %v; want an error", c, r)
		} else {
			t.Logf("%+v: %v", c, err)
		}
	}
}

func TestLocalhost(t *testing.T) {
	addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", "localhost")
	if err != nil || len(addrs) == 0 {
		t.Skipf("localhost does not resolve here: %v", err)
	}
	addr := serve(t, hello)
	_, port, _ := net.SplitHostPort(addr)
	r := mustRun(t, Config{Addr: "localhost:" + port, Conns: 1, MaxRequests: 3})
	if !slices.ContainsFunc(addrs, func(a netip.Addr) bool { return a.Unmap().Is4() }) {
		want(t, r, map[string]int{"refused": 3}) // localhost is ::1 only
		return
	}
	want(t, r, map[string]int{"ok": 3})
}

func TestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, c := range []struct {
		n    int
		q    float64
		want time.Duration
	}{{100, 0.5, 50}, {100, 0.99, 99}, {1, 0.5, 1}, {1, 0.99, 1}, {2, 0.5, 1}, {2, 0.99, 2}, {10, 0.99, 10}} {
		if got := rank(lat[:c.n], c.q); got != c.want {
			t.Errorf("rank(1..%d, %v) = %v; want %v", c.n, c.q, got, c.want)
		}
	}
}

// TestKeepAliveServerCloses runs keep-alive requests against a server
// that closes every connection after its answer without saying so: the
// client notices, or retries a request written to the closed
// connection, and every request is OK (see "Retries on reused
// connections" in the package doc).
func TestKeepAliveServerCloses(t *testing.T) {
	addr := serveRaw(t, func(c *net.TCPConn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 4096)); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		}
	})
	r := mustRun(t, Config{Addr: addr, Want: "hello", KeepAlive: 1, MaxRequests: 20})
	want(t, r, map[string]int{"ok": 20})
	if r.KeepAliveDials < 20 {
		t.Errorf("%d dials for 20 requests to a server closing every connection; want at least 20", r.KeepAliveDials)
	}
}

// serveRaw listens on 127.0.0.1 and hands each connection to handle, one
// at a time, then closes it; it returns the address. The listener and
// its goroutine end with the test.
func serveRaw(t *testing.T, handle func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			handle(c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}
