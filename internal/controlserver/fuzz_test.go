package controlserver

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/logthrottle"
)

// namesBackend is the fake backend, recording every unit name the server
// passes on, which must all be canonical.
type namesBackend struct {
	*fakeBackend
	mu    sync.Mutex
	names []string
}

func (b *namesBackend) saw(name string) {
	b.mu.Lock()
	b.names = append(b.names, name)
	b.mu.Unlock()
}

func (b *namesBackend) Unit(ctx context.Context, name string) (control.Unit, error) {
	b.saw(name)
	return b.fakeBackend.Unit(ctx, name)
}

func (b *namesBackend) Do(ctx context.Context, name string, a control.Action) error {
	b.saw(name)
	return b.fakeBackend.Do(ctx, name, a)
}

func (b *namesBackend) GracefulRestart(ctx context.Context, name string) error {
	b.saw(name)
	return b.fakeBackend.GracefulRestart(ctx, name)
}

func (b *namesBackend) Files(ctx context.Context, name string) ([]control.File, error) {
	b.saw(name)
	return b.fakeBackend.Files(ctx, name)
}

// FuzzRequest feeds the control API arbitrary requests, as root and as
// another user: the method, the path (unit names and escapes included)
// and the body. Every answer must be a status the API documents with a
// JSON body (an error object for every non-200), every name the backend
// gets must be canonical, and a refused user must change nothing.
func FuzzRequest(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "/v1/units", ""},
		{"GET", "/v1/units/web", ""},
		{"GET", "/v1/units/web.service/files", ""},
		{"POST", "/v1/units/web.service/restart", `{"graceful":true}`},
		{"POST", "/v1/units/web.service/stop", `{}`},
		{"POST", "/v1/reload", ""},
		{"POST", "/v1/units/%2e%2e/start", `{"graceful":1}`},
		{"POST", "/v1/upgrade", `{"binary":"/x"}`},
		{"GET", "/v1/daemon", ""},
		{"DELETE", "/v1/units/web@x.service", `[]`},
	} {
		f.Add(s[0], s[1], s[2], true)
	}
	discard := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, method, path, body string, root bool) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://sockd"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		peer := Peer{UID: 0, GID: 0, PID: 1}
		if !root {
			peer = Peer{UID: 65534, GID: 65534, PID: 2}
		}
		req = req.WithContext(context.WithValue(context.Background(), peerKey{}, peer))
		b := &namesBackend{fakeBackend: newFake()}
		s := &Server{cfg: Config{Group: -1, Backend: b, Log: discard}, uid: 4242, warn: logthrottle.New(discard, 0)}
		s.limit = newConnLimit(nil, s.uid, s.warn)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)

		switch w.Code {
		case 200, 400, 403, 404, 405, 409, 413, 500, 501, 503:
		default:
			t.Fatalf("%s %q %q: status %d", method, path, body, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q %q: %d with a body that is not JSON: %q", method, path, body, w.Code, w.Body)
		}
		if w.Code != 200 {
			var e control.Error
			if json.NewDecoder(bytes.NewReader(w.Body.Bytes())).Decode(&e) != nil || e.Message == "" {
				t.Fatalf("%s %q %q: %d without an error message: %q", method, path, body, w.Code, w.Body)
			}
		}
		for _, n := range b.names {
			if c, err := control.CanonicalName(n); err != nil || c != n {
				t.Fatalf("%s %q: the backend got the name %q, which is not canonical (%q, %v)", method, path, n, c, err)
			}
		}
		if !root && len(b.Calls()) > 0 {
			t.Fatalf("%s %q %q as uid 65534 changed things: %v", method, path, body, b.Calls())
		}
	})
}

// FuzzDecodeBody: the body decoder never panics, and accepts only a
// single JSON object of the request's type (or nothing).
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{"", "{}", `{"graceful":true}`, `{"graceful":true} {}`, `{"x":1}`, " \n", "null", "[1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v struct {
			Graceful bool `json:"graceful"`
		}
		if err := decodeBody(strings.NewReader(body), &v); err != nil {
			var e *control.Error
			if !asControlError(err, &e) || (e.Status != 400 && e.Status != 413) {
				t.Fatalf("decodeBody(%q): %v; want a 400 control.Error", body, err)
			}
			return
		}
		if trimmed := strings.TrimSpace(body); trimmed != "" && !json.Valid([]byte(trimmed)) {
			t.Fatalf("decodeBody accepted %q, which is not one JSON value", body)
		}
	})
}

func asControlError(err error, e **control.Error) bool {
	ce, ok := err.(*control.Error)
	*e = ce
	return ok
}
