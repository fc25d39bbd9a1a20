package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockd/sockd/tests/internal/e2e"
)

// TestGracefulRestart runs `sockctl restart --graceful` on the example
// HTTP service (examples/hello-http, which drains on SIGTERM) while
// clients send requests without pause, over new connections and over
// keep-alive ones: no request may fail, whether the new instance takes
// over or fails to start.
func TestGracefulRestart(t *testing.T) {
	bin, err := e2e.Build(nil, "../cmd/sockctl", "../examples/hello-http")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	t.Run("notify", func(t *testing.T) { testGracefulNotify(t, bin) })
	t.Run("never-ready", func(t *testing.T) { testGracefulFailure(t, bin) })
	t.Run("exec", func(t *testing.T) { testGracefulExec(t, bin) })
	t.Run("refused", func(t *testing.T) { testGracefulRefused(t, bin) })
}

// graceWeb is hello-http behind web.socket on a loopback port, with the
// flag files of its directory: while DIR/noready exists a new instance
// never sends READY=1, while DIR/crash exists it exits 1 at once.
type graceWeb struct {
	t    *testing.T
	e    *env
	s    *sockd
	bin  string // sockctl and hello-http
	addr string
}

func startGraceWeb(t *testing.T, bin string, service ...string) *graceWeb {
	t.Helper()
	e := newEnv(t)
	w := &graceWeb{t: t, e: e, bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	script := fmt.Sprintf("if test -e %s; then exec sleep 600; fi; if test -e %s; then exit 1; fi; exec %s",
		e.path("noready"), e.path("crash"), filepath.Join(bin, "hello-http"))
	e.unit("web", []string{"ListenStream=" + w.addr},
		append([]string{`ExecStart=/bin/sh -c "` + script + `"`, "TimeoutStopSec=15s"}, service...))
	w.s = e.start()
	t.Cleanup(func() {
		w.s.stop(20 * time.Second)
		if procs := serviceProcs(bin); len(procs) != 0 {
			t.Errorf("service processes %v left after sockd stopped", procs)
		}
	})
	return w
}

// flag creates or removes a flag file.
func (w *graceWeb) flag(name string, on bool) {
	w.t.Helper()
	if !on {
		os.Remove(w.e.path(name))
		return
	}
	if err := os.WriteFile(w.e.path(name), nil, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// sockctl runs sockctl with args; it returns the exit code and stderr.
func (w *graceWeb) sockctl(args ...string) (int, string) {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(w.bin, "sockctl"), append([]string{"--runtime-dir", w.e.runtimeDir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return 0, string(out) + stderr.String()
}

// restart restarts web.service gracefully and returns the new main pid
// and how long the restart took; it fails the test if sockctl did.
func (w *graceWeb) restart() (int, time.Duration) {
	w.t.Helper()
	begin := time.Now()
	if code, out := w.sockctl("restart", "--graceful", "web.service"); code != 0 {
		w.t.Fatalf("sockctl restart --graceful web.service: exit %d: %s", code, out)
	}
	took := time.Since(begin)
	st := w.e.status("web.service")
	if st.SubState != "running" || st.MainPID == 0 {
		w.t.Fatalf("after the graceful restart: %s/%s, main pid %d", st.ActiveState, st.SubState, st.MainPID)
	}
	return st.MainPID, took
}

// mainPID starts web.service if needed and returns its main pid.
func (w *graceWeb) mainPID() int {
	w.t.Helper()
	if code, out := w.sockctl("start", "web.service"); code != 0 {
		w.t.Fatalf("sockctl start web.service: exit %d: %s", code, out)
	}
	return w.e.status("web.service").MainPID
}

// waitDrained waits until no old instance is draining and checks that
// every pid in old is gone: neither running nor left a zombie.
func (w *graceWeb) waitDrained(old []int) {
	w.t.Helper()
	if !waitFor(30*time.Second, func() bool { return len(w.e.status("web.service").DrainingPIDs) == 0 }) {
		w.t.Fatalf("still draining after 30s: %v", w.e.status("web.service").DrainingPIDs)
	}
	for _, pid := range old {
		state, ppid, ok := procStat(pid)
		if !ok {
			continue // gone
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if state == "Z" && ppid == w.s.pid() || strings.Contains(string(cmd), w.bin) {
			w.t.Errorf("old instance %d is still there (state %s, parent %d)", pid, state, ppid)
		}
	}
}

// load sends GET requests to a hello-http from a few goroutines until
// stopped: half over a new connection each, half over keep-alive ones.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	ok       map[bool]int // by keep-alive
	failed   int
	failures []string
	pids     map[int]int // answers by pid
	served   map[int]chan struct{}
}

// servedBy returns a channel closed once pid answered a request.
func (l *load) servedBy(pid int) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.served[pid]
	if !ok {
		c = make(chan struct{})
		l.served[pid] = c
		if l.pids[pid] > 0 {
			close(c)
		}
	}
	return c
}

var helloRE = regexp.MustCompile(`^hello from pid (\d+), up `)

func startLoad(addr string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, ok: map[bool]int{}, pids: map[int]int{}, served: map[int]chan struct{}{}}
	for i := range 4 {
		keepAlive := i%2 == 0
		c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.CloseIdleConnections()
			for n := 0; ctx.Err() == nil; n++ {
				url := "http://" + addr + "/"
				if n%10 == 0 {
					url += "?wait=20ms" // some requests are in flight at each stop
				}
				pid, err := get(c, url)
				l.record(keepAlive, pid, err)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	return l
}

// readHello reads a response of hello-http and checks that pid answered.
func readHello(resp *http.Response, pid int) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	m := helloRE.FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		return fmt.Errorf("%s: %q", resp.Status, b)
	}
	if got, _ := strconv.Atoi(string(m[1])); got != pid {
		return fmt.Errorf("answered by %d, want the old instance %d", got, pid)
	}
	return nil
}

// get returns the pid that answered url, or an error.
func get(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	m := helloRE.FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		return 0, fmt.Errorf("%s: %q", resp.Status, b)
	}
	return strconv.Atoi(string(m[1]))
}

func (l *load) record(keepAlive bool, pid int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		if len(l.failures) < 10 {
			l.failures = append(l.failures, fmt.Sprintf("%s (keep-alive %v): %v", time.Now().Format("15:04:05.000"), keepAlive, err))
		}
		return
	}
	l.ok[keepAlive]++
	l.pids[pid]++
	if l.pids[pid] == 1 {
		if c, ok := l.served[pid]; ok {
			close(c)
		}
	}
}

// stop stops the clients, logs the counts and fails the test if a
// request failed or none succeeded.
func (l *load) stop(t *testing.T) {
	t.Helper()
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("requests: %d ok (%d on new connections, %d keep-alive), %d failed; answered by %d processes",
		l.ok[false]+l.ok[true], l.ok[false], l.ok[true], l.failed, len(l.pids))
	if l.failed != 0 {
		t.Errorf("%d requests failed, want 0; first ones:\n%s", l.failed, strings.Join(l.failures, "\n"))
	}
	if l.ok[false] == 0 || l.ok[true] == 0 {
		t.Errorf("no request succeeded on new connections (%d) or keep-alive ones (%d)", l.ok[false], l.ok[true])
	}
}

// testGracefulNotify: 20 graceful restarts of a Type=notify service under
// load; each succeeds with a new main pid, a request held by the old
// instance is answered by it, and every old instance is gone at the end.
func testGracefulNotify(t *testing.T, bin string) {
	w := startGraceWeb(t, bin, "Type=notify", "Restart=on-failure")
	pid := w.mainPID()
	l := startLoad(w.addr)
	// A request the old instance holds through the first restart: its
	// headers tell that the old instance has it.
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Get("http://" + w.addr + "/?wait=1500ms")
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Hello-Pid"); got != strconv.Itoa(pid) {
		t.Fatalf("held request taken by pid %q, want the old instance %d", got, pid)
	}
	held := make(chan error, 1)
	go func() { held <- readHello(resp, pid) }()
	const restarts = 20
	pids := []int{pid}
	var longest time.Duration
	for i := range restarts {
		next, took := w.restart()
		longest = max(longest, took)
		if slices.Contains(pids, next) {
			t.Fatalf("restart %d: main pid %d, which ran before (%v)", i+1, next, pids)
		}
		if i == 0 {
			if code, out := w.sockctl("status", "web.service"); code != 0 || !strings.Contains(out, fmt.Sprintf("Draining: %d\n", pid)) {
				t.Errorf("sockctl status during the first drain: exit %d, no \"Draining: %d\":\n%s", code, pid, out)
			}
		}
		pids = append(pids, next)
		select { // the new instance serves the load a while
		case <-l.servedBy(next):
		case <-time.After(10 * time.Second):
			t.Fatalf("restart %d: the new instance %d answered no request within 10s", i+1, next)
		}
	}
	if err := <-held; err != nil {
		t.Errorf("request held through a graceful restart: %v", err)
	}
	w.waitDrained(pids[:restarts])
	l.stop(t)
	t.Logf("%d graceful restarts, each a new main pid (longest %v)", restarts, longest.Round(time.Millisecond))
	if st := w.e.status("web.service"); st.MainPID != pids[restarts] || st.Restarts != 0 {
		t.Errorf("main pid %d, %d automatic restarts; want %d and none", st.MainPID, st.Restarts, pids[restarts])
	}
}

// testGracefulFailure: a new instance that never sends READY=1, or exits
// at once, is stopped; the restart fails saying so and the old instance
// serves on without a failed request.
func testGracefulFailure(t *testing.T, bin string) {
	w := startGraceWeb(t, bin, "Type=notify", "TimeoutStartSec=2s")
	old := w.mainPID()
	l := startLoad(w.addr)
	for _, tc := range []struct{ flag, why string }{
		{"noready", `did not send READY=1 within TimeoutStartSec=2s`},
		{"crash", `exited with code=exited, status=1/FAILURE before it was ready`},
	} {
		w.flag(tc.flag, true)
		code, stderr := w.sockctl("restart", "--graceful", "web.service")
		w.flag(tc.flag, false)
		re := regexp.MustCompile(`^sockctl: web\.service: graceful restart of web\.service failed: new instance \(pid (\d+)\) ` +
			regexp.QuoteMeta(tc.why) + `; old instance \(pid ` + strconv.Itoa(old) + `\) keeps serving\n$`)
		m := re.FindStringSubmatch(stderr)
		if code != 1 || m == nil {
			t.Fatalf("%s: sockctl exit %d, stderr %q; want 1 and a match for %s", tc.flag, code, stderr, re)
		}
		t.Logf("%s: %s", tc.flag, strings.TrimSpace(stderr))
		if n, _ := strconv.Atoi(m[1]); alive(n) {
			t.Errorf("%s: the new instance %d still runs", tc.flag, n)
		}
		if st := w.e.status("web.service"); st.MainPID != old || st.SubState != "running" || len(st.DrainingPIDs) != 0 {
			t.Errorf("%s: main pid %d, %s, draining %v; want the old %d running", tc.flag, st.MainPID, st.SubState, st.DrainingPIDs, old)
		}
	}
	next, _ := w.restart()
	if next == old {
		t.Errorf("main pid still %d after a successful restart", old)
	}
	w.waitDrained([]int{old})
	l.stop(t)
}

// testGracefulExec: Type=exec counts the new instance as ready once it
// has run GracefulReadySec=.
func testGracefulExec(t *testing.T, bin string) {
	w := startGraceWeb(t, bin, "Type=exec", "GracefulReadySec=500ms")
	pids := []int{w.mainPID()}
	l := startLoad(w.addr)
	const restarts = 5
	for i := range restarts {
		next, took := w.restart()
		if took < 500*time.Millisecond {
			t.Errorf("restart %d took %v, less than GracefulReadySec=500ms", i+1, took)
		}
		if slices.Contains(pids, next) {
			t.Fatalf("restart %d: main pid %d, which ran before (%v)", i+1, next, pids)
		}
		pids = append(pids, next)
	}
	w.waitDrained(pids[:restarts])
	l.stop(t)
	t.Logf("%d graceful restarts of a Type=exec service", restarts)
}

// testGracefulRefused: a socket, an Accept=yes template and other verbs
// than restart are refused as usage errors, and nothing is restarted.
func testGracefulRefused(t *testing.T, bin string) {
	w := startGraceWeb(t, bin, "Type=notify")
	w.e.writeFile("echo.socket", "[Socket]\nListenStream="+w.e.path("echo.sock")+"\nAccept=yes\n")
	w.e.writeFile("echo@.service", "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n")
	if code, out := w.sockctl("reload"); code != 0 {
		t.Fatalf("sockctl reload: exit %d: %s", code, out)
	}
	pid := w.mainPID()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restart", "--graceful", "web"}, "sockctl: web.socket: graceful restart applies to the service, which keeps the listeners: use web.service\n"},
		{[]string{"restart", "--graceful", "echo@.service"}, "sockctl: echo@.service: graceful restart needs Accept=no: echo@.service is a template, sockd starts an instance of it per connection\n"},
		{[]string{"stop", "--graceful", "web.service"}, "sockctl: flag --graceful applies to restart only\n"},
	} {
		code, stderr := w.sockctl(tc.args...)
		if code != 2 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("sockctl %s: exit %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
	if st := w.e.status("web.service"); st.MainPID != pid {
		t.Errorf("main pid %d after refused requests; want %d", st.MainPID, pid)
	}
}
