// Package upgrade_test checks sockd's zero-downtime upgrades end to end: a
// real sockd serving a real HTTP service (examples/hello-http) under a
// continuous load from internal/loadgen, upgraded in place with sockctl
// upgrade, refused upgrades (rollback), a takeover by a second sockd, and
// an Accept=yes instance that lives across an upgrade. Every test counts
// the load's failures and fails on any.
package upgrade_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/loadgen"
	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir, bin2Dir string

func TestMain(m *testing.M) {
	// A second sockd binary that says it is version v2, to upgrade to.
	d, err := e2e.Build([]string{"-ldflags", "-X main.version=v2"}, "../../cmd/sockd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin2Dir = d
	defer os.RemoveAll(d)
	e2e.Main(m, &binDir, "../../cmd/sockd", "../../cmd/sockctl", "../../examples/hello-http")
}

// freePort returns an address of 127.0.0.1 with a free port.
func freePort(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", e2e.FreePort(t)) }

// helloUnits are the units of the example HTTP service on addr.
func helloUnits(addr string) map[string]string {
	return map[string]string{
		"hello.socket":  "[Socket]\nListenStream=" + addr + "\n",
		"hello.service": "[Service]\nType=notify\nExecStart=" + filepath.Join(binDir, "hello-http") + "\nRestart=on-failure\n",
	}
}

func startSockd(t *testing.T, files map[string]string) *e2e.Sockd {
	return startSockdWith(t, files)
}

// startSockdWith starts sockd with args after the usual ones.
func startSockdWith(t *testing.T, files map[string]string, args ...string) *e2e.Sockd {
	return e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: append([]string{"--log-level", "debug"}, args...)}, files)
}

// sockctl runs sockctl against the runtime directory rt.
func sockctl(rt string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+rt, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// daemonInfo asks the control API of the sockd at rt who it is.
func daemonInfo(t *testing.T, rt string) control.Daemon {
	t.Helper()
	c := control.NewClient(filepath.Join(rt, control.SocketName))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.Daemon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mainPID(t *testing.T, rt, unit string) int {
	t.Helper()
	c := control.NewClient(filepath.Join(rt, control.SocketName))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := c.Unit(ctx, unit)
	if err != nil {
		t.Fatal(err)
	}
	return u.MainPID
}

// load is a light continuous load on addr (two new-connection and two
// keep-alive workers at about 100 requests per second each) until stop
// is called, which returns the result.
func load(t *testing.T, addr string) (stop func() *loadgen.Result) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *loadgen.Result, 1)
	go func() {
		r, err := loadgen.Run(ctx, loadgen.Config{
			Addr: addr, Want: "hello from pid", Conns: 2, KeepAlive: 2,
			Duration: 5 * time.Minute, Timeout: 5 * time.Second, Rate: 100,
		})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	return func() *loadgen.Result {
		time.Sleep(200 * time.Millisecond) // some load after the last change
		cancel()
		r := <-done
		if r == nil {
			t.Fatal("no load result")
		}
		return r
	}
}

// startHelloUnderLoad starts sockd with the hello units on a free
// loopback port and puts them under load; it returns once the load has
// run for 300 ms.
func startHelloUnderLoad(t *testing.T) (s *e2e.Sockd, addr string, stop func() *loadgen.Result) {
	t.Helper()
	addr = freePort(t)
	s = startSockd(t, helloUnits(addr))
	stop = load(t, addr)
	time.Sleep(300 * time.Millisecond)
	return s, addr, stop
}

// checkLoad fails the test on any failed request.
func checkLoad(t *testing.T, r *loadgen.Result, minOK int) {
	t.Helper()
	t.Logf("load: %s", r)
	if r.Failures() > 0 {
		t.Errorf("%d requests failed under load: %s", r.Failures(), r)
	}
	if r.OK < minOK {
		t.Errorf("only %d requests succeeded, want at least %d: the load did not run", r.OK, minOK)
	}
}

// TestUpgradesUnderLoad upgrades sockd five times in place, alternating
// two binaries, under a continuous load: sockd keeps its pid, its
// generation counts up, the running service is the same process
// throughout (it was never restarted), and no request fails.
func TestUpgradesUnderLoad(t *testing.T) {
	s, addr, stop := startHelloUnderLoad(t)
	svc := mainPID(t, s.RuntimeDir, "hello.service")
	if svc == 0 {
		t.Fatalf("the service is not running under load; log:\n%s", s.LogText())
	}
	fdsBefore := openFDs(t, s.Pid())
	for i := 1; i <= 5; i++ {
		binary := filepath.Join(binDir, "sockd")
		version := "dev"
		if i%2 == 1 {
			binary, version = filepath.Join(bin2Dir, "sockd"), "v2"
		}
		start := time.Now()
		out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", binary)
		if err != nil {
			t.Fatalf("upgrade %d: %v\n%s\nlog:\n%s", i, err, out, s.LogText())
		}
		t.Logf("upgrade %d took %s: %s", i, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
		info := daemonInfo(t, s.RuntimeDir)
		if info.PID != s.Pid() || info.Generation != i+1 || info.Version != version || info.Binary != binary {
			t.Errorf("after upgrade %d: %+v; want pid %d, generation %d, version %s, binary %s", i, info, s.Pid(), i+1, version, binary)
		}
		if got := mainPID(t, s.RuntimeDir, "hello.service"); got != svc {
			t.Errorf("after upgrade %d the service's main pid is %d, want %d (still the same process)", i, got, svc)
		}
		time.Sleep(300 * time.Millisecond)
	}
	checkLoad(t, stop(), 200)
	if fdsAfter := openFDs(t, s.Pid()); len(fdsAfter) != len(fdsBefore) {
		t.Errorf("sockd had %d fds before the upgrades and %d after:\nbefore %v\nafter  %v", len(fdsBefore), len(fdsAfter), fdsBefore, fdsAfter)
	}
	// The service is still supervised: killed, it is started again by
	// the next connection.
	if err := syscallKill(svc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "service exited", func() bool { return mainPID(t, s.RuntimeDir, "hello.service") != svc })
	if _, err := get(addr); err != nil {
		t.Errorf("after the service was killed, sockd started no new one: %v", err)
	}
}

// TestRestartsAndUpgradesUnderLoad is the acceptance run: under
// one continuous load (new connections and keep-alive requests), 20
// graceful restarts of the service and 5 upgrades of sockd, interleaved;
// every restart gives a new main pid, every upgrade keeps sockd's pid and
// the service's, and no connection or request fails.
func TestRestartsAndUpgradesUnderLoad(t *testing.T) {
	s, _, stop := startHelloUnderLoad(t)
	svc := mainPID(t, s.RuntimeDir, "hello.service")
	restarts, upgrades := 0, 0
	for restarts < 20 {
		if out, err := sockctl(s.RuntimeDir, "restart", "--graceful", "hello.service"); err != nil {
			t.Fatalf("graceful restart %d: %v\n%s\nlog:\n%s", restarts+1, err, out, s.LogText())
		}
		restarts++
		next := mainPID(t, s.RuntimeDir, "hello.service")
		if next == svc || next == 0 {
			t.Errorf("graceful restart %d: main pid %d, want a new one (was %d)", restarts, next, svc)
		}
		svc = next
		time.Sleep(100 * time.Millisecond)
		if restarts%4 == 0 {
			binary := filepath.Join(binDir, "sockd")
			if upgrades%2 == 0 {
				binary = filepath.Join(bin2Dir, "sockd")
			}
			if out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", binary); err != nil {
				t.Fatalf("upgrade %d: %v\n%s\nlog:\n%s", upgrades+1, err, out, s.LogText())
			}
			upgrades++
			if info := daemonInfo(t, s.RuntimeDir); info.PID != s.Pid() || info.Generation != upgrades+1 {
				t.Errorf("after upgrade %d: %+v, want pid %d generation %d", upgrades, info, s.Pid(), upgrades+1)
			}
			if got := mainPID(t, s.RuntimeDir, "hello.service"); got != svc {
				t.Errorf("upgrade %d restarted the service: main pid %d, want %d", upgrades, got, svc)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	r := stop()
	t.Logf("%d graceful restarts and %d upgrades under load", restarts, upgrades)
	checkLoad(t, r, 500)
	if upgrades != 5 {
		t.Errorf("%d upgrades, want 5", upgrades)
	}
	if z := zombieChildren(t, s.Pid()); len(z) > 0 {
		t.Errorf("zombie children of sockd: %v", z)
	}
}

// TestUpgradeRollback: upgrades to a binary that exits at once, to one
// that fails, and with a unit that does not validate are refused with the
// reason; sockd keeps its pid and generation and serves on without a
// failed request.
func TestUpgradeRollback(t *testing.T) {
	s, _, stop := startHelloUnderLoad(t)
	script := filepath.Join(t.TempDir(), "sockd-script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '{\"ok\":true}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, binary, want string
		setup              func()
	}{
		{"binary exits at once", testenv.RequireProgram(t, "true"), "does not speak sockd's upgrade protocol", nil},
		{"binary fails", testenv.RequireProgram(t, "false"), "status=1", nil},
		{"a script", script, "cannot open /proc/self/fd/", nil},
		{"missing binary", "/nonexistent/sockd", "no such file", nil},
		{"invalid unit", filepath.Join(bin2Dir, "sockd"), "broken.socket:2", func() {
			os.WriteFile(filepath.Join(s.Work, "units", "broken.socket"), []byte("[Socket]\nListenStream=nowhere:port\n"), 0o644)
		}},
	} {
		if c.setup != nil {
			c.setup()
		}
		out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", c.binary)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "upgrade refused") || !strings.Contains(out, c.want) {
			t.Errorf("%s: sockctl upgrade: %v\n%s\nwant exit 1 and \"upgrade refused\" naming %q", c.name, err, out, c.want)
		}
		t.Logf("%s: %s", c.name, strings.TrimSpace(out))
		info := daemonInfo(t, s.RuntimeDir)
		if info.PID != s.Pid() || info.Generation != 1 || info.Version != "dev" {
			t.Errorf("%s: after the refused upgrade: %+v; want pid %d, generation 1, version dev", c.name, info, s.Pid())
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkLoad(t, stop(), 100)
}

// TestTakeoverUnderLoad: a second sockd started with --takeover on the
// same runtime directory takes over; the first one stops its service
// and exits 0; under load nothing fails.
func TestTakeoverUnderLoad(t *testing.T) {
	s, _, stop := startHelloUnderLoad(t)
	old := mainPID(t, s.RuntimeDir, "hello.service")

	logPath := filepath.Join(s.Work, "sockd2.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	next := exec.Command(filepath.Join(bin2Dir, "sockd"), "--takeover", "--log-level", "debug",
		"--units", filepath.Join(s.Work, "units"), "--runtime-dir", s.RuntimeDir)
	next.Stdout, next.Stderr = logf, logf
	if err := next.Start(); err != nil {
		t.Fatal(err)
	}
	nextDone := make(chan error, 1)
	go func() { nextDone <- next.Wait() }()
	t.Cleanup(func() {
		next.Process.Signal(os.Interrupt)
		select {
		case <-nextDone:
		case <-time.After(20 * time.Second):
			next.Process.Kill()
			t.Error("the new sockd did not stop on SIGINT")
		}
	})
	// The old sockd exits by itself, with status 0.
	if took := s.Wait(20 * time.Second); took < 0 {
		t.Fatalf("the old sockd did not exit after the takeover; its log:\n%s\nthe new one's:\n%s", s.LogText(), readFile(logPath))
	}
	if code := s.ExitCode(); code != 0 {
		t.Errorf("the old sockd exited with %d, want 0", code)
	}
	// The new sockd opens its control socket right after the old one
	// let go, which may be after the old one exited.
	var info control.Daemon
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c := control.NewClient(filepath.Join(s.RuntimeDir, control.SocketName))
		if d, err := c.Daemon(context.Background()); err == nil {
			info = d
			break
		}
	}
	if info.PID != next.Process.Pid || info.Generation != 2 || info.Version != "v2" {
		t.Errorf("after the takeover: %+v; want pid %d, generation 2, version v2", info, next.Process.Pid)
	}
	time.Sleep(500 * time.Millisecond)
	checkLoad(t, stop(), 100)
	if now := mainPID(t, s.RuntimeDir, "hello.service"); now == 0 || now == old {
		t.Errorf("after the takeover the service is pid %d; want a new instance started by the new sockd (the old one was %d)", now, old)
	}
	if err := syscallKill0(old); err == nil {
		t.Errorf("the old generation's service (pid %d) still runs after the old sockd exited", old)
	}
	if !strings.Contains(s.LogText(), "handing over to a new sockd") {
		t.Errorf("the old sockd did not log the handover; its log:\n%s", s.LogText())
	}
}

// TestAcceptInstanceSurvivesUpgrade: a per-connection instance started
// before an upgrade keeps its connection, is counted by the new image,
// and is reaped by it when it exits.
func TestAcceptInstanceSurvivesUpgrade(t *testing.T) {
	addr := freePort(t)
	s := startSockd(t, map[string]string{
		"chat.socket":   "[Socket]\nListenStream=" + addr + "\nAccept=yes\n",
		"chat@.service": "[Service]\nExecStart=/bin/sh -c 'echo hi; read x; echo bye $x'\nStandardInput=socket\n",
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); l != "hi\n" {
		t.Fatalf("read %q, %v; want hi", l, err)
	}
	if out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", filepath.Join(bin2Dir, "sockd")); err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if n := connections(t, s.RuntimeDir); n != 1 {
		t.Errorf("after the upgrade sockd counts %d live instances, want 1", n)
	}
	fmt.Fprintln(c, "there")
	if l, err := r.ReadString('\n'); l != "bye there\n" {
		t.Fatalf("after the upgrade the instance answered %q, %v; want \"bye there\"", l, err)
	}
	waitFor(t, s, "instance exited", func() bool { return connections(t, s.RuntimeDir) == 0 })
	if zombies := zombieChildren(t, s.Pid()); len(zombies) > 0 {
		t.Errorf("zombie children of sockd after the instance exited: %v", zombies)
	}
}

func connections(t *testing.T, rt string) int {
	t.Helper()
	out, err := sockctl(rt, "--json", "status", "chat.socket")
	if err != nil {
		t.Fatalf("sockctl status: %v\n%s", err, out)
	}
	var us []control.Unit
	if err := json.Unmarshal([]byte(out), &us); err != nil || len(us) != 1 {
		t.Fatalf("sockctl --json status: %v\n%s", err, out)
	}
	return us[0].Connections
}

func get(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if n == 0 {
		return "", err
	}
	return string(b[:n]), nil
}

func waitFor(t *testing.T, s *e2e.Sockd, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waiting for %s: timed out; sockd's log:\n%s", what, s.LogText())
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func syscallKill(pid int) error  { return syscall.Kill(pid, syscall.SIGKILL) }
func syscallKill0(pid int) error { return syscall.Kill(pid, 0) }

// zombieChildren returns the pids of pid's children that are zombies.
func zombieChildren(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var child int
		if _, err := fmt.Sscanf(e.Name(), "%d", &child); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		var state string
		var ppid int
		fmt.Sscanf(rest, "%s %d", &state, &ppid)
		if ppid == pid && state == "Z" {
			out = append(out, child)
		}
	}
	return out
}

// openFDs lists what the fds of process pid point to, sorted.
func openFDs(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, target)
	}
	sort.Strings(out)
	return out
}

// TestUpgradesWhileInstancesStart: upgrades while an Accept=yes unit
// starts an instance for every connection of a client loop. Parking must
// wait for instances being started (it once crashed sockd there), and
// every connection is served.
func TestUpgradesWhileInstancesStart(t *testing.T) {
	addr := freePort(t)
	s := startSockd(t, map[string]string{
		"hi.socket":   "[Socket]\nListenStream=" + addr + "\nAccept=yes\n",
		"hi@.service": "[Service]\nExecStart=/bin/echo hi\nStandardInput=socket\n",
	})
	stop := make(chan struct{})
	type result struct{ ok, failed int }
	done := make(chan result)
	go func() {
		var r result
		for {
			select {
			case <-stop:
				done <- r
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				r.failed++
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if l, _ := bufio.NewReader(c).ReadString('\n'); l == "hi\n" {
				r.ok++
			} else {
				r.failed++
			}
			c.Close()
		}
	}()
	for i := 1; i <= 10; i++ {
		if out, err := sockctl(s.RuntimeDir, "upgrade"); err != nil {
			close(stop)
			<-done
			t.Fatalf("upgrade %d: %v\n%s\nlog:\n%s", i, err, out, s.LogText())
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	r := <-done
	t.Logf("10 upgrades; connections: %d served, %d failed", r.ok, r.failed)
	if r.failed > 0 || r.ok == 0 {
		t.Errorf("%d connections failed, %d served", r.failed, r.ok)
	}
	if info := daemonInfo(t, s.RuntimeDir); info.PID != s.Pid() || info.Generation != 11 {
		t.Errorf("after 10 upgrades: %+v; want pid %d, generation 11", info, s.Pid())
	}
}

// TestUpgradeReadsTheUnitFiles: the new image starts from the settings
// the old one saved, then reads the unit files as a reload does: a unit
// added before the upgrade is served after it, and the running service
// of an unchanged unit is left alone.
func TestUpgradeReadsTheUnitFiles(t *testing.T) {
	addr, addr2 := freePort(t), freePort(t)
	s := startSockd(t, helloUnits(addr))
	if _, err := get(addr); err != nil {
		t.Fatal(err)
	}
	// The service may answer before its READY=1 makes it the main process.
	waitFor(t, s, "hello.service ready", func() bool { return mainPID(t, s.RuntimeDir, "hello.service") != 0 })
	svc := mainPID(t, s.RuntimeDir, "hello.service")
	for name, content := range map[string]string{
		"second.socket":  "[Socket]\nListenStream=" + addr2 + "\n",
		"second.service": "[Service]\nType=notify\nExecStart=" + filepath.Join(binDir, "hello-http") + "\n",
	} {
		if err := os.WriteFile(filepath.Join(s.Work, "units", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := sockctl(s.RuntimeDir, "upgrade"); err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	waitFor(t, s, "the reload after the upgrade", func() bool { return strings.Contains(s.LogText(), "msg=reloaded added=1 removed=0 changed=0") })
	if out, err := get(addr2); err != nil || !strings.Contains(out, "hello from pid") {
		t.Errorf("the unit added before the upgrade does not serve: %q, %v", out, err)
	}
	if got := mainPID(t, s.RuntimeDir, "hello.service"); got != svc {
		t.Errorf("the unchanged unit's service was restarted: pid %d, want %d", got, svc)
	}
}
