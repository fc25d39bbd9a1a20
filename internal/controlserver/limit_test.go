package controlserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// request sends GET /v1/units on c and returns the status and body.
func request(t *testing.T, c net.Conn) (int, string) {
	t.Helper()
	fmt.Fprint(c, "GET /v1/units HTTP/1.1\r\nHost: sockd\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConnectionCap: past the cap on open connections, a connection is
// answered 503 with the API's JSON error and closed; once one closes,
// the next is served again.
func TestConnectionCap(t *testing.T) {
	ts := startServer(t, "", nil)
	ts.limit.mu.Lock()
	ts.limit.max = 4
	ts.limit.mu.Unlock()
	var held []net.Conn
	for range 4 {
		c, err := net.Dial("unix", ts.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if code, body := request(t, c); code != 200 {
			t.Fatalf("connection within the cap: %d %s", code, body)
		}
		held = append(held, c)
	}
	c, err := net.Dial("unix", ts.Path())
	if err != nil {
		t.Fatal(err)
	}
	code, body := request(t, c)
	c.Close()
	var e control.Error
	if code != 503 || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Message, "too many connections") {
		t.Fatalf("connection past the cap: %d %s; want 503 with a JSON error", code, body)
	}
	held[0].Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("unix", ts.Path())
		if err != nil {
			t.Fatal(err)
		}
		code, _ := request(t, c)
		c.Close()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection never made room for another")
		}
	}
	if n := strings.Count(ts.log.String(), "control connection refused"); n < 1 {
		t.Errorf("refusal not logged:\n%s", ts.log)
	}
}

// TestConnectionCapPerUID: one uid gets MaxConnsPerUID connections; root
// and sockd's own uid only the total cap.
func TestConnectionCapPerUID(t *testing.T) {
	l := newConnLimit(nil, 1000, nil)
	l.max, l.per = 10, 2
	conn := func() net.Conn { a, b := net.Pipe(); b.Close(); return a }
	for i, c := range []struct {
		uid  int
		want bool
	}{{65534, true}, {65534, true}, {65534, false}, {1, true}, {0, true}, {0, true}, {0, true}, {1000, true}, {1000, true}, {1000, true}} {
		if got := l.admit(conn(), c.uid) == ""; got != c.want {
			t.Errorf("connection %d of uid %d admitted %v; want %v", i, c.uid, got, c.want)
		}
	}
	if why := l.admit(conn(), 0); why != "" { // the tenth fits
		t.Errorf("connection 10 refused: %s", why)
	}
	if why := l.admit(conn(), 0); !strings.Contains(why, "the most allowed") {
		t.Errorf("connection 11, past the total: %q; want a refusal", why)
	}
}
