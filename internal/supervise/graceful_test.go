package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// With GRACEFUL_TEST_DIR set, the test binary is the service of these
// tests (see graceService).
func init() {
	if dir := os.Getenv("GRACEFUL_TEST_DIR"); dir != "" {
		os.Exit(graceService(dir))
	}
}

// graceService serves the listener passed as fd 3: each connection sends
// a line and gets the service's pid back; "slow" is answered only once
// the file DIR/release exists (DIR/busy-PID tells that the request is
// held). On SIGTERM it stops accepting, finishes the connections it has,
// writes DIR/term-PID and exits 0. DIR/mode, read at start, changes that:
// "crash" exits 3 at once, "noready" never sends READY=1 nor serves,
// "waitgo" sends READY=1 only once DIR/go exists, "ignoreterm" ignores
// SIGTERM. It writes DIR/started-PID first thing.
func graceService(dir string) int {
	pid := strconv.Itoa(os.Getpid())
	touch := func(name string) { os.WriteFile(filepath.Join(dir, name), nil, 0o644) }
	exists := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	waitFile := func(name string) {
		for !exists(name) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "mode"))
	mode := strings.TrimSpace(string(b))
	touch("started-" + pid)
	switch {
	case mode == "crash":
		return 3
	case os.Getenv("LISTEN_PID") != pid || os.Getenv("LISTEN_FDS") != "1":
		return 4
	case mode == "noready":
		// Not select{}: without cgo the runtime would call that a
		// deadlock and exit 2.
		for {
			time.Sleep(time.Hour)
		}
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return 5
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if mode == "waitgo" {
		waitFile("go")
	}
	if path := os.Getenv("NOTIFY_SOCKET"); path != "" {
		c, err := net.Dial("unixgram", path)
		if err != nil {
			return 6
		}
		fmt.Fprintf(c, "READY=1\nSTATUS=serving as %s", pid)
		c.Close()
	}
	conns := make(chan struct{}, 1024) // one token per connection in progress
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- struct{}{}
			go func() {
				defer func() { <-conns }()
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				if strings.TrimSpace(line) == "slow" {
					touch("busy-" + pid)
					waitFile("release")
				}
				io.WriteString(c, pid+"\n")
			}()
		}
	}()
	for range sigs {
		if mode != "ignoreterm" {
			break
		}
	}
	ln.Close()
	<-accepted
	for len(conns) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	touch("term-" + pid)
	return 0
}

// graceUnit is an Accept=no unit on DIR/s.sock whose service is
// graceService, with extra [Service] lines.
func graceUnit(t *testing.T, typ, extra string) map[string]string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"grace.socket": "[Socket]\nListenStream=$DIR/s.sock\n",
		"grace.service": "[Service]\nType=" + typ + "\nExecStart=" + exe + " -test.run=none\n" +
			"Environment=GRACEFUL_TEST_DIR=$DIR\nTimeoutStartSec=5s\nTimeoutStopSec=5s\n" + extra,
	}
}

// setMode sets the mode of the service's next instance.
func (h *harness) setMode(mode string) {
	h.t.Helper()
	if err := os.WriteFile(h.path("mode"), []byte(mode), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// ask sends req to the service and returns the pid that answered.
func (h *harness) ask(req string) int {
	h.t.Helper()
	c := h.dialUnix("unix", "s.sock", "")
	io.WriteString(c, req+"\n")
	pid, err := strconv.Atoi(strings.TrimSpace(readAll(h.t, c)))
	if err != nil {
		h.t.Fatalf("answer to %q: %v", req, err)
	}
	return pid
}

func (h *harness) exists(name string) bool {
	_, err := os.Stat(h.path(name))
	return err == nil
}

// start starts the service and returns its main pid.
func (h *harness) start() int {
	h.t.Helper()
	if err := h.u.Do(context.Background(), OpStart); err != nil {
		h.t.Fatal(err)
	}
	st := h.u.Status()
	if st.State != StateRunning || st.MainPID == 0 {
		h.t.Fatalf("after start: %+v; log:\n%s", st, h.log)
	}
	return st.MainPID
}

// graceful restarts the service gracefully.
func (h *harness) graceful() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return h.u.Do(ctx, OpGracefulRestart)
}

// TestGracefulRestartNotify: the new instance of a Type=notify service
// takes over once it sent READY=1; the old one gets SIGTERM, finishes the
// request it holds, is listed as draining until it exits, and its exit
// counts as no restart.
func TestGracefulRestartNotify(t *testing.T) {
	h := startUnit(t, "grace", graceUnit(t, "notify", "Restart=always\n"))
	old := h.start()
	held := make(chan int, 1)
	go func() {
		c, err := net.Dial("unix", h.path("s.sock"))
		if err != nil {
			held <- -1
			return
		}
		defer c.Close()
		io.WriteString(c, "slow\n")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(c)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		held <- pid
	}()
	h.waitFor("the old instance holding a request", func() bool { return h.exists("busy-" + strconv.Itoa(old)) })

	if err := h.graceful(); err != nil {
		t.Fatalf("graceful restart: %v; log:\n%s", err, h.log)
	}
	st := h.u.Status()
	if st.MainPID == old || st.MainPID == 0 || st.State != StateRunning {
		t.Errorf("after the restart: main pid %d (old %d), state %s; want a new pid, running", st.MainPID, old, st.State)
	}
	if want := "serving as " + strconv.Itoa(st.MainPID); st.StatusText != want {
		t.Errorf("status text %q; want %q", st.StatusText, want)
	}
	if len(st.DrainingPIDs) != 1 || st.DrainingPIDs[0] != old {
		t.Errorf("draining %v; want [%d]", st.DrainingPIDs, old)
	}
	// A new connection is answered while the old instance drains.
	if pid := h.ask("fast"); pid != st.MainPID && pid != old {
		t.Errorf("answered by pid %d; want %d or %d", pid, st.MainPID, old)
	}
	os.WriteFile(h.path("release"), nil, 0o644)
	if pid := <-held; pid != old {
		t.Errorf("the held request was answered by %d; want the old instance %d", pid, old)
	}
	h.waitFor("the old instance gone", func() bool { return len(h.u.Status().DrainingPIDs) == 0 })
	if alive(old) {
		t.Errorf("old instance %d still alive", old)
	}
	if !h.exists("term-" + strconv.Itoa(old)) {
		t.Errorf("the old instance did not drain on SIGTERM")
	}
	if pid := h.ask("fast"); pid != st.MainPID {
		t.Errorf("answered by pid %d after the old one stopped; want %d", pid, st.MainPID)
	}
	if st := h.u.Status(); st.Restarts != 0 || st.MainPID == 0 {
		t.Errorf("status %+v; want no automatic restart", st)
	}
}

// TestGracefulRestartFailures: a new instance that exits, or never sends
// READY=1 within TimeoutStartSec=, is stopped, the restart fails saying
// why, and the old instance keeps serving.
func TestGracefulRestartFailures(t *testing.T) {
	h := startUnit(t, "grace", graceUnit(t, "notify", "TimeoutStartSec=1s\n"))
	old := h.start()
	for _, tc := range []struct{ mode, why string }{
		{"crash", `new instance \(pid (\d+)\) exited with code=exited, status=3 before it was ready`},
		{"noready", `new instance \(pid (\d+)\) did not send READY=1 within TimeoutStartSec=1s`},
	} {
		h.setMode(tc.mode)
		err := h.graceful()
		re := regexp.MustCompile(`^graceful restart of grace\.service failed: ` + tc.why + `; old instance \(pid ` + strconv.Itoa(old) + `\) keeps serving$`)
		if err == nil || !re.MatchString(err.Error()) {
			t.Fatalf("%s: got error %v; want one matching %s", tc.mode, err, re)
		}
		newPID, _ := strconv.Atoi(re.FindStringSubmatch(err.Error())[1])
		if alive(newPID) {
			t.Errorf("%s: the new instance %d is still alive", tc.mode, newPID)
		}
		if st := h.u.Status(); st.MainPID != old || st.State != StateRunning || len(st.DrainingPIDs) != 0 {
			t.Errorf("%s: status %+v; want the old pid %d running, nothing draining", tc.mode, st, old)
		}
		if pid := h.ask("fast"); pid != old {
			t.Errorf("%s: answered by %d; want the old instance %d", tc.mode, pid, old)
		}
	}
	h.setMode("")
	if err := h.graceful(); err != nil {
		t.Fatalf("graceful restart after the failures: %v", err)
	}
	if st := h.u.Status(); st.MainPID == old {
		t.Errorf("main pid still %d after a successful restart", old)
	}
}

// TestGracefulRestartExec: with Type=exec the new instance counts as
// ready GracefulReadySec= after its exec; one that exits before is a
// failure.
func TestGracefulRestartExec(t *testing.T) {
	h := startUnit(t, "grace", graceUnit(t, "exec", "GracefulReadySec=300ms\n"))
	old := h.start()
	begin := time.Now()
	if err := h.graceful(); err != nil {
		t.Fatalf("graceful restart: %v", err)
	}
	if d := time.Since(begin); d < 300*time.Millisecond {
		t.Errorf("the restart took %v, less than GracefulReadySec=300ms", d)
	}
	st := h.u.Status()
	if st.MainPID == old {
		t.Fatalf("main pid still %d", old)
	}
	h.waitFor("the old instance gone", func() bool { return len(h.u.Status().DrainingPIDs) == 0 })
	// The crashing instance exits as soon as its runtime is up, which on a
	// busy machine can take longer than 300ms (the window would then
	// close first, and the instance count as ready): give it a window it
	// cannot outlast.
	cfg := *h.u.Config()
	cfg.Service.GracefulReady = time.Minute
	if err := h.u.Reconfigure(context.Background(), &cfg); err != nil {
		t.Fatal(err)
	}
	h.setMode("crash")
	if err := h.graceful(); err == nil || !strings.Contains(err.Error(), "exited with code=exited, status=3 before it was ready") {
		t.Errorf("restart into a crashing instance: %v", err)
	}
	if pid := h.ask("fast"); pid != st.MainPID {
		t.Errorf("answered by %d; want %d", pid, st.MainPID)
	}
}

// TestGracefulRestartNotRunning: a service that does not run is started.
func TestGracefulRestartNotRunning(t *testing.T) {
	h := startUnit(t, "grace", graceUnit(t, "notify", ""))
	if err := h.graceful(); err != nil {
		t.Fatal(err)
	}
	st := h.u.Status()
	if st.State != StateRunning || st.MainPID == 0 {
		t.Fatalf("status %+v; want running", st)
	}
	if pid := h.ask("fast"); pid != st.MainPID {
		t.Errorf("answered by %d; want %d", pid, st.MainPID)
	}
	h.setMode("crash")
	h.u.Do(context.Background(), OpStop)
	if err := h.graceful(); err == nil || !strings.Contains(err.Error(), "it was not running, and starting it failed") {
		t.Errorf("graceful restart of a stopped service that crashes: %v", err)
	}
}

// TestGracefulRestartOldExits: the old instance exiting while the new
// one starts is no failure and triggers no Restart=.
func TestGracefulRestartOldExits(t *testing.T) {
	h := startUnit(t, "grace", graceUnit(t, "notify", "Restart=always\n"))
	old := h.start()
	h.setMode("waitgo")
	done := make(chan error, 1)
	go func() { done <- h.graceful() }()
	h.waitFor("a new instance", func() bool {
		ents, _ := filepath.Glob(h.path("started-*"))
		return len(ents) == 2
	})
	syscall.Kill(old, syscall.SIGKILL)
	h.waitFor("the old instance's exit seen", func() bool { return h.u.Status().MainPID == 0 })
	os.WriteFile(h.path("go"), nil, 0o644)
	if err := <-done; err != nil {
		t.Fatalf("graceful restart: %v", err)
	}
	st := h.u.Status()
	if st.MainPID == 0 || st.MainPID == old || st.State != StateRunning || st.Restarts != 0 || len(st.DrainingPIDs) != 0 {
		t.Errorf("status %+v; want a new main pid, running, no restart, nothing draining", st)
	}
	if st.LastExit == nil || st.LastExit.String() != "code=killed, signal=KILL" {
		t.Errorf("last exit %v; want the old instance's SIGKILL", st.LastExit)
	}
	if pid := h.ask("fast"); pid != st.MainPID {
		t.Errorf("answered by %d; want %d", pid, st.MainPID)
	}
}

// TestGracefulRestartStopWaitsForDrain: an old instance that ignores
// SIGTERM is killed after TimeoutStopSec=; stopping the service waits for
// it, and so does stopping the unit.
func TestGracefulRestartStopWaitsForDrain(t *testing.T) {
	h := startUnit(t, "grace", graceUnit(t, "notify", "TimeoutStopSec=1s\n"))
	h.setMode("ignoreterm")
	first := h.start()
	h.setMode("ignoreterm")
	if err := h.graceful(); err != nil {
		t.Fatal(err)
	}
	second := h.u.Status().MainPID
	if err := h.graceful(); err != nil {
		t.Fatal(err)
	}
	third := h.u.Status().MainPID
	if got := h.u.Status().DrainingPIDs; len(got) != 2 || got[0] != first || got[1] != second {
		t.Errorf("draining %v; want [%d %d]", got, first, second)
	}
	if err := h.u.Do(context.Background(), OpStop); err != nil {
		t.Fatal(err)
	}
	st := h.u.Status()
	if len(st.DrainingPIDs) != 0 || st.MainPID != 0 {
		t.Errorf("after stop: %+v; want nothing running or draining", st)
	}
	for _, pid := range []int{first, second, third} {
		if alive(pid) {
			t.Errorf("pid %d alive after stop", pid)
		}
	}
	if !strings.Contains(h.log.String(), "old instance did not stop in time, sending SIGKILL") {
		t.Errorf("no SIGKILL logged for the old instances; log:\n%s", h.log)
	}

	// Stopping the unit (Run returns) waits for a draining instance too.
	h.start()
	if err := h.graceful(); err != nil {
		t.Fatal(err)
	}
	draining := h.u.Status().DrainingPIDs
	h.stop()
	for _, pid := range draining {
		if alive(pid) {
			t.Errorf("draining pid %d alive after the unit stopped", pid)
		}
	}
}

// TestGracefulRestartParkWhileDraining: a unit does not park for an
// upgrade while an old instance drains (a Saved cannot carry it); it
// says it is busy, and parks once the old instance is gone.
func TestGracefulRestartParkWhileDraining(t *testing.T) {
	h := startUnit(t, "grace", graceUnit(t, "notify", "TimeoutStopSec=1s\n"))
	h.setMode("ignoreterm")
	old := h.start()
	h.setMode("")
	if err := h.graceful(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.u.Park(context.Background()); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("Park while pid %d drains: %v; want a busy error", old, err)
	}
	h.waitFor("the old instance gone", func() bool { return len(h.u.Status().DrainingPIDs) == 0 })
	p, err := h.u.Park(context.Background())
	if err != nil {
		t.Fatalf("Park once drained: %v", err)
	}
	if p.Saved.Main == nil || p.Saved.Main.PID != h.u.Status().MainPID {
		t.Errorf("saved main %+v; want pid %d", p.Saved.Main, h.u.Status().MainPID)
	}
	p.Resume()
	if pid := h.ask("fast"); pid != h.u.Status().MainPID {
		t.Errorf("answered by %d after resuming; want %d", pid, h.u.Status().MainPID)
	}
}

// TestGracefulRestartAcceptRefused: an Accept=yes unit has no main
// process to replace.
func TestGracefulRestartAcceptRefused(t *testing.T) {
	h := startUnit(t, "hold", holdUnit(""))
	err := h.graceful()
	if err == nil || !strings.Contains(err.Error(), "graceful restart of hold@.service refused") {
		t.Errorf("graceful restart of an Accept=yes unit: %v", err)
	}
	if errors.Is(err, ErrStopped) {
		t.Errorf("refused as not running")
	}
}
