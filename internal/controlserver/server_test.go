package controlserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
)

// fakeBackend records the changes asked of it.
type fakeBackend struct {
	mu      sync.Mutex
	calls   []string
	units   map[string]control.Unit
	reload  error
	blockDo chan struct{} // if set, Do waits on it or ctx
	// doBlocked, if set, receives once Do waits on blockDo, and doEnded
	// what ended the wait (nil: blockDo; else ctx's error).
	doBlocked chan struct{}
	doEnded   chan error
	// graceful is what GracefulRestart returns.
	graceful error
}

func newFake() *fakeBackend {
	return &fakeBackend{units: map[string]control.Unit{
		"web.socket":  {Name: "web.socket", Kind: "socket", Socket: "web.socket", Service: "web.service", State: "listening", ActiveState: "active", SubState: "listening", Files: []string{"/etc/sockd/units/web.socket"}},
		"web.service": {Name: "web.service", Kind: "service", Socket: "web.socket", Service: "web.service", State: "listening", ActiveState: "inactive", SubState: "dead"},
	}}
}

func (f *fakeBackend) Units(ctx context.Context) ([]control.Unit, error) {
	return []control.Unit{f.units["web.socket"]}, nil
}

func (f *fakeBackend) Unit(ctx context.Context, name string) (control.Unit, error) {
	u, ok := f.units[name]
	if !ok {
		return control.Unit{}, control.NoSuchUnit(name)
	}
	return u, nil
}

func (f *fakeBackend) Do(ctx context.Context, name string, a control.Action) error {
	if _, ok := f.units[name]; !ok {
		return control.NoSuchUnit(name)
	}
	if f.blockDo != nil {
		if f.doBlocked != nil {
			f.doBlocked <- struct{}{}
		}
		var err error
		select {
		case <-f.blockDo:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if f.doEnded != nil {
			f.doEnded <- err
		}
		if err != nil {
			return err
		}
	}
	if name == "web.socket" && a == control.Stop {
		return control.NotSupported(name, "stop of a socket unit")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, string(a)+" "+name)
	return nil
}

func (f *fakeBackend) GracefulRestart(ctx context.Context, name string) error {
	if _, ok := f.units[name]; !ok {
		return control.NoSuchUnit(name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "graceful-restart "+name)
	return f.graceful
}

func (f *fakeBackend) Reload(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reload")
	return f.reload
}

func (f *fakeBackend) Files(ctx context.Context, name string) ([]control.File, error) {
	if _, ok := f.units[name]; !ok {
		return nil, control.NoSuchUnit(name)
	}
	return []control.File{{Path: "/etc/sockd/units/web.socket", Content: "[Socket]\nListenStream=80\n"}}, nil
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type testServer struct {
	*Server
	fake *fakeBackend
	log  *testenv.SyncBuffer
	done chan error
}

// startServer serves a fake backend on a socket in dir (a fresh
// temporary directory if dir is "").
func startServer(t *testing.T, dir string, mod func(*Config)) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ts := &testServer{fake: newFake(), log: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	cfg := Config{
		Path:    filepath.Join(dir, control.SocketName),
		Group:   -1,
		Backend: ts.fake,
		Log:     slog.New(slog.NewTextHandler(ts.log, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	go func() { ts.done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return ts
}

// raw sends one request and returns the status and the decoded JSON body.
func raw(t *testing.T, path, method, url, body string) (int, map[string]any) {
	t.Helper()
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", path)
	}}}
	req, _ := http.NewRequest(method, "http://sockd"+url, strings.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, body %q", method, url, ct, data)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Errorf("%s %s: body is not a JSON object: %q", method, url, data)
	}
	return resp.StatusCode, m
}

func TestSocketMode(t *testing.T) {
	ts := startServer(t, "", nil)
	fi, err := os.Lstat(ts.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want socket 0600", fi.Mode())
	}
	gid := os.Getgid()
	ts2 := startServer(t, "", func(c *Config) { c.Group = gid })
	fi, err = os.Lstat(ts2.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || int(fi.Sys().(*syscall.Stat_t).Gid) != gid {
		t.Errorf("socket mode = %v gid %d, want 0660 gid %d", fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid, gid)
	}
	// No temporary directory is left behind.
	ents, _ := os.ReadDir(filepath.Dir(ts.Path()))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".control-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestLiveSocketIsNotClobbered(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, nil)
	// A second server on the same path is refused (the lock)...
	if _, err := Listen(Config{Path: ts.Path(), Group: -1, Backend: newFake()}); err == nil {
		t.Fatal("second Listen on a live socket succeeded")
	}
	if code, _ := raw(t, ts.Path(), "GET", "/v1/units", ""); code != 200 {
		t.Errorf("first server answers %d after the second Listen", code)
	}

	// ...and so is a path where something else listens, lock or not.
	other := filepath.Join(t.TempDir(), control.SocketName)
	l, err := net.Listen("unix", other)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Listen(Config{Path: other, Group: -1, Backend: newFake()}); err == nil || !strings.Contains(err.Error(), "another sockd is listening") {
		t.Fatalf("Listen on a live foreign socket: %v", err)
	}

	// A stale socket (nobody listening) is replaced.
	stale := filepath.Join(t.TempDir(), control.SocketName)
	sl, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	sl.SetUnlinkOnClose(false)
	sl.Close()
	ts3 := startServer(t, filepath.Dir(stale), nil)
	if code, _ := raw(t, ts3.Path(), "GET", "/v1/units", ""); code != 200 {
		t.Errorf("server on a formerly stale path answers %d", code)
	}

	// A regular file is left alone.
	reg := filepath.Join(t.TempDir(), control.SocketName)
	os.WriteFile(reg, []byte("x"), 0o600)
	if _, err := Listen(Config{Path: reg, Group: -1, Backend: newFake()}); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
}

func TestShutdownRemovesSocketAndServeReturns(t *testing.T) {
	fake := newFake()
	fake.blockDo = make(chan struct{})
	fake.doBlocked, fake.doEnded = make(chan struct{}, 1), make(chan error, 1)
	path := filepath.Join(t.TempDir(), control.SocketName)
	srv, err := Listen(Config{Path: path, Group: -1, Backend: fake})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	// A request stuck in the backend is cancelled when the grace ends.
	reqDone := make(chan error, 1)
	go func() {
		_, err := control.NewClient(path).Do(context.Background(), "web.service", control.Stop)
		reqDone <- err
	}()
	select { // the request is in the backend
	case <-fake.doBlocked:
	case err := <-reqDone:
		t.Fatalf("request ended before it reached the backend: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("request did not reach the backend")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	srv.Shutdown(ctx)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if err := <-fake.doEnded; !errors.Is(err, context.Canceled) {
		t.Errorf("the backend's wait ended with %v; want context.Canceled, Shutdown cancelling it", err)
	}
	select {
	case err := <-reqDone:
		var ce *control.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable || !strings.Contains(ce.Message, "request cancelled: sockd is stopping") {
			t.Errorf("blocked request: %v; want 503 request cancelled: sockd is stopping", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked request not ended by Shutdown")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Shutdown: %v", err)
	}
	_, err = control.NewClient(path).Units(context.Background())
	var nr *control.NotRunningError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "sockd is not running (no control socket at "+path+")") {
		t.Errorf("client after shutdown: %v", err)
	}
}

func TestClientRequests(t *testing.T) {
	ts := startServer(t, "", nil)
	c := control.NewClient(ts.Path())
	ctx := context.Background()
	us, err := c.Units(ctx)
	if err != nil || len(us) != 1 || us[0].Name != "web.socket" {
		t.Fatalf("Units = %+v, %v", us, err)
	}
	for _, name := range []string{"web", "web.socket"} {
		u, err := c.Unit(ctx, name)
		if err != nil || u.Name != "web.socket" {
			t.Errorf("Unit(%q) = %+v, %v", name, u, err)
		}
	}
	if u, err := c.Do(ctx, "web.service", control.Restart); err != nil || u.Name != "web.service" {
		t.Errorf("Do = %+v, %v", u, err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Error(err)
	}
	fs, err := c.Files(ctx, "web")
	if err != nil || len(fs) != 1 || !strings.Contains(fs[0].Content, "ListenStream") {
		t.Errorf("Files = %+v, %v", fs, err)
	}
	_, err = c.Unit(ctx, "nope.service")
	if !control.IsNoSuchUnit(err) || err.Error() != "nope.service: no such unit" {
		t.Errorf("Unit(nope) error = %v", err)
	}
	_, err = c.Do(ctx, "web.socket", control.Stop)
	var e *control.Error
	if !errors.As(err, &e) || e.Status != 501 || !strings.Contains(err.Error(), "web.socket: ") {
		t.Errorf("stop web.socket error = %v", err)
	}
	ts.fake.reload = errors.New("/etc/sockd/units/x.socket:3: [Socket] ListenStream: bad address")
	if err := c.Reload(ctx); err == nil || !strings.Contains(err.Error(), "x.socket:3:") {
		t.Errorf("failed reload error = %v", err)
	}
	if got, want := fmt.Sprint(ts.fake.Calls()), "[restart web.service reload reload]"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
}

func TestMalformedRequestsChangeNothing(t *testing.T) {
	ts := startServer(t, "", nil)
	for _, tc := range []struct {
		method, url, body string
		code              int
	}{
		{"POST", "/v1/units/web.service/stop", "{", 400},
		{"POST", "/v1/units/web.service/stop", "[1]", 400},
		{"POST", "/v1/units/web.service/stop", `{"force":true}`, 400},
		{"POST", "/v1/units/web.service/stop", `{} {}`, 400},
		{"POST", "/v1/units/web.service/stop", `{"graceful":true}`, 400},
		{"POST", "/v1/units/web.service/start", `{"graceful":true}`, 400},
		{"POST", "/v1/units/web.service/restart", `{"graceful":"yes"}`, 400},
		{"POST", "/v1/units/web.service/restart", `{"graceful":true,"force":true}`, 400},
		{"POST", "/v1/reload", `{"graceful":true}`, 400},
		{"POST", "/v1/units/web.service/stop", strings.Repeat(" ", control.MaxBodyBytes+1) + "{}", 413},
		{"POST", "/v1/reload", "nope", 400},
		{"POST", "/v1/units/web.service/explode", "", 404},
		{"GET", "/v1/units/web.service/stop", "", 405},
		{"DELETE", "/v1/units/web.service", "", 405},
		{"POST", "/v1/units/web.target/start", "", 400},
		{"POST", "/v1/units/a%2Fb.service/start", "", 400},
		{"POST", "/v1/units/" + strings.Repeat("a", 300) + "/start", "", 400},
		{"GET", "/v2/units", "", 404},
		{"GET", "/", "", 404},
		{"GET", "/v1/units/nope", "", 404},
	} {
		code, body := raw(t, ts.Path(), tc.method, tc.url, tc.body)
		if code != tc.code || body["error"] == nil || body["error"] == "" {
			t.Errorf("%s %s %.20q: %d %v, want %d and a JSON error", tc.method, tc.url, tc.body, code, body, tc.code)
		}
	}
	if calls := ts.fake.Calls(); len(calls) != 0 {
		t.Errorf("malformed requests made changes: %v", calls)
	}
	// The same request well formed goes through.
	if code, body := raw(t, ts.Path(), "POST", "/v1/units/web.service/stop", "{}"); code != 200 || body["name"] != "web.service" {
		t.Errorf("well formed stop: %d %v", code, body)
	}
}

// TestGracefulRestartRequest: restart with {"graceful": true} asks the
// backend for a graceful restart and answers the unit, or the backend's
// error; without it, or with false, it is a plain restart.
func TestGracefulRestartRequest(t *testing.T) {
	ts := startServer(t, "", nil)
	c := control.NewClient(ts.Path())
	ctx := context.Background()
	if u, err := c.GracefulRestart(ctx, "web.service"); err != nil || u.Name != "web.service" {
		t.Errorf("GracefulRestart = %+v, %v", u, err)
	}
	if code, body := raw(t, ts.Path(), "POST", "/v1/units/web.service/restart", `{"graceful": false}`); code != 200 || body["name"] != "web.service" {
		t.Errorf("restart with graceful false: %d %v", code, body)
	}
	if code, _ := raw(t, ts.Path(), "POST", "/v1/units/web.service/restart", `{"graceful": true}`); code != 200 {
		t.Errorf("raw graceful restart: %d", code)
	}
	if got, want := fmt.Sprint(ts.fake.Calls()), "[graceful-restart web.service restart web.service graceful-restart web.service]"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}

	ts.fake.graceful = errors.New("graceful restart of web.service failed: new instance (pid 2) exited with code=exited, status=1/FAILURE; old instance (pid 1) keeps serving")
	_, err := c.GracefulRestart(ctx, "web.service")
	var e *control.Error
	if !errors.As(err, &e) || e.Status != 500 || e.Unit != "web.service" || e.Message != ts.fake.graceful.Error() {
		t.Errorf("failed graceful restart: %#v; want status 500 with the backend's message", err)
	}
	if _, err := c.GracefulRestart(ctx, "nope.service"); !control.IsNoSuchUnit(err) {
		t.Errorf("graceful restart of a missing unit: %v", err)
	}
}

func TestHeaderLimitAndSlowClient(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.ReadHeaderTimeout = 200 * time.Millisecond })
	c, err := net.Dial("unix", ts.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /v1/units HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 2*control.MaxHeaderBytes+4096))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized header: %s", resp.Status)
	}

	// A client that sends half a request line is cut off.
	slow, err := net.Dial("unix", ts.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET /v1/un")
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, slow)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow client kept for %v", d)
	}
}

// The helper process: when SOCKD_CONTROL_TEST_HELPER is set, the test
// binary sends one request to the socket and prints "STATUS BODY".
func TestMain(m *testing.M) {
	if path := os.Getenv("SOCKD_CONTROL_TEST_HELPER"); path != "" {
		c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return net.Dial("unix", path)
		}}}
		req, _ := http.NewRequest(os.Getenv("METHOD"), "http://sockd"+os.Getenv("URL"), nil)
		resp, err := c.Do(req)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		data, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, data)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// asUser runs one request from a process with the given credentials.
func asUser(t *testing.T, exe, path string, cred *syscall.Credential, method, url string) (int, string, int) {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = []string{"SOCKD_CONTROL_TEST_HELPER=" + path, "METHOD=" + method, "URL=" + url}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper as uid %d: %v: %s", cred.Uid, err, out)
	}
	var code int
	var body string
	fmt.Sscanf(string(out), "%d", &code)
	if i := strings.IndexByte(string(out), ' '); i >= 0 {
		body = string(out[i+1:])
	}
	return code, body, cmd.Process.Pid
}

func TestPermissions(t *testing.T) {
	testenv.RequireRoot(t, "runs clients as nobody")
	// A directory and a copy of the test binary that nobody can reach.
	dir, err := os.MkdirTemp("", "sockd-control-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	self, _ := os.Executable()
	exe := filepath.Join(dir, "helper.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	const nobody, nogroup = 65534, 65534
	const extraGroup = 4242

	for _, tc := range []struct {
		name     string
		group    int
		cred     syscall.Credential
		mayWrite bool
	}{
		{"other user", -1, syscall.Credential{Uid: nobody, Gid: nogroup, Groups: []uint32{}}, false},
		{"primary group member", nogroup, syscall.Credential{Uid: nobody, Gid: nogroup, Groups: []uint32{}}, true},
		{"supplementary group member", extraGroup, syscall.Credential{Uid: nobody, Gid: nogroup, Groups: []uint32{extraGroup}}, true},
		{"not in the group", extraGroup, syscall.Credential{Uid: nobody, Gid: nogroup, Groups: []uint32{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdir := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			os.Mkdir(sdir, 0o755)
			ts := startServer(t, sdir, func(c *Config) { c.Group = tc.group })
			// Let anyone connect: reading is open to whoever can.
			os.Chmod(ts.Path(), 0o666)

			code, body, _ := asUser(t, exe, ts.Path(), &tc.cred, "GET", "/v1/units/web")
			if code != 200 || !strings.Contains(body, `"name":"web.socket"`) {
				t.Errorf("read as nobody: %d %s", code, body)
			}
			code, body, pid := asUser(t, exe, ts.Path(), &tc.cred, "POST", "/v1/units/web.service/stop")
			if tc.mayWrite {
				if code != 200 || len(ts.fake.Calls()) != 1 {
					t.Errorf("change as group member: %d %s, calls %v", code, body, ts.fake.Calls())
				}
				return
			}
			var e control.Error
			if code != 403 || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Message, "permission denied") {
				t.Errorf("change as nobody: %d %s, want 403 JSON error", code, body)
			}
			if calls := ts.fake.Calls(); len(calls) != 0 {
				t.Errorf("refused request made changes: %v", calls)
			}
			logged := ts.log.String()
			if !strings.Contains(logged, "control request refused") || !strings.Contains(logged, fmt.Sprintf("uid=%d", nobody)) ||
				!strings.Contains(logged, fmt.Sprintf("pid=%d", pid)) {
				t.Errorf("refusal not logged with uid %d and pid %d:\n%s", nobody, pid, logged)
			}
		})
	}
}
