package reaper

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sh starts /bin/sh -c script through r.
func sh(t *testing.T, r *Reaper, script string) (int, <-chan Status) {
	t.Helper()
	var pid int
	c, err := r.Start(func() (int, error) {
		var err error
		pid, err = syscall.ForkExec("/bin/sh", []string{"sh", "-c", script},
			&syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
		return pid, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid, c
}

func wait(t *testing.T, c <-chan Status) Status {
	t.Helper()
	select {
	case st, ok := <-c:
		if !ok {
			t.Fatal("status channel closed without a status")
		}
		return st
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a child")
	}
	panic("unreachable")
}

func newReaper(t *testing.T, log *slog.Logger) *Reaper {
	t.Helper()
	r, err := New(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func TestExitAndSignal(t *testing.T) {
	r := newReaper(t, nil)
	pid, c := sh(t, r, "exit 3")
	st := wait(t, c)
	if st.Pid != pid || !st.Wait.Exited() || st.Wait.ExitStatus() != 3 {
		t.Errorf("got %+v (%v), want pid %d exit 3", st, st, pid)
	}
	if got := st.String(); got != "code=exited, status=3" {
		t.Errorf("String() = %q", got)
	}
	if _, ok := <-c; ok {
		t.Error("channel not closed after the status")
	}

	_, c = sh(t, r, "kill -TERM $$")
	st = wait(t, c)
	if !st.Wait.Signaled() || st.Wait.Signal() != syscall.SIGTERM {
		t.Errorf("got %v, want killed by SIGTERM", st)
	}
	if got := st.String(); got != "code=killed, signal=TERM" {
		t.Errorf("String() = %q", got)
	}
}

// TestManyFastChildren starts children that exit at once, concurrently,
// so that some exit before Start returns: none may be lost.
func TestManyFastChildren(t *testing.T) {
	r := newReaper(t, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				c, err := r.Start(func() (int, error) {
					return syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
				})
				if err != nil {
					t.Error(err)
					return
				}
				select {
				case st := <-c:
					if !st.Wait.Exited() || st.Wait.ExitStatus() != 0 {
						t.Errorf("status %v", st)
					}
				case <-time.After(10 * time.Second):
					t.Error("lost a status")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// recorder is a slog.Handler that keeps the pids of reaped orphans and
// leaves a token in reaped after each.
type recorder struct {
	mu     sync.Mutex
	orphan map[int]string
	reaped chan struct{}
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recorder) WithGroup(string) slog.Handler            { return h }
func (h *recorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "reaped orphan" || rec.Level != slog.LevelDebug {
		return nil
	}
	var pid int
	var status string
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "pid":
			pid = int(a.Value.Int64())
		case "status":
			status = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.orphan[pid] = status
	h.mu.Unlock()
	select {
	case h.reaped <- struct{}{}:
	default:
	}
	return nil
}

func (h *recorder) status(pid int) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.orphan[pid]
	return s, ok
}

// TestOrphan: a child forks a grandchild and exits; the grandchild is
// reparented to the test process (a subreaper) and reaped when it exits.
func TestOrphan(t *testing.T) {
	rec := &recorder{orphan: map[int]string{}, reaped: make(chan struct{}, 1)}
	r := newReaper(t, slog.New(rec))
	pidFile := filepath.Join(t.TempDir(), "pid")
	_, c := sh(t, r, "sh -c 'sleep 0.2; exit 7' & echo $! > "+pidFile+"; exit 0")
	if st := wait(t, c); st.Wait.ExitStatus() != 0 {
		t.Fatalf("child: %v", st)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	ppid := parentOf(t, grandchild)
	if ppid != os.Getpid() {
		t.Errorf("grandchild's parent is %d, want the test process %d", ppid, os.Getpid())
	}
	timeout := time.After(10 * time.Second)
	for {
		if st, ok := rec.status(grandchild); ok {
			if st != "code=exited, status=7" {
				t.Errorf("orphan status %q", st)
			}
			return
		}
		select {
		case <-rec.reaped:
		case <-timeout:
			t.Fatalf("orphan %d was not reaped", grandchild)
		}
	}
}

// parentOf reads the PPid of pid from /proc; 0 if it already exited.
func parentOf(t *testing.T, pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no PPid in /proc/%d/status", pid)
	return 0
}

func TestStop(t *testing.T) {
	r, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	pid, c := sh(t, r, "exec sleep 30")
	r.Stop()
	r.Stop()
	if _, ok := <-c; ok {
		t.Error("pending channel got a value after Stop")
	}
	if _, err := r.Start(func() (int, error) { return 0, errors.New("must not run") }); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop: %v", err)
	}
	// The reaper is gone: clean up the sleeper by hand.
	syscall.Kill(pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
}

func TestStartForkError(t *testing.T) {
	r := newReaper(t, nil)
	want := errors.New("boom")
	if _, err := r.Start(func() (int, error) { return 0, want }); err != want {
		t.Errorf("got %v, want %v", err, want)
	}
	if _, err := r.Start(func() (int, error) { return 0, nil }); err == nil {
		t.Error("pid 0 accepted")
	}
}

// TestStartFunc: a function subscriber gets the status once; Reap
// delivers it in the calling goroutine without waiting for SIGCHLD's
// handling, and only after every status reaped before was delivered.
func TestStartFunc(t *testing.T) {
	r := newReaper(t, nil)
	got := make(chan Status, 2)
	var pid int
	err := r.StartFunc(func() (int, error) {
		var err error
		pid, err = syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 7"}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
		return pid, err
	}, func(st Status, ok bool) {
		if !ok {
			t.Error("delivered with ok=false before Stop")
		}
		got <- st
	})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the child has exited, without reaping it (WNOWAIT); the
	// reaper's goroutine may have reaped it already (ECHILD).
	var info unix.Siginfo
	unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
	r.Reap()
	st := wait(t, got)
	if st.Pid != pid || st.Wait.ExitStatus() != 7 {
		t.Errorf("got %v for pid %d; want exit 7 of %d", st, st.Pid, pid)
	}
	r.Reap()
	if len(got) != 0 {
		t.Error("status delivered twice")
	}
}

// TestStartFuncStop: Stop calls the function of a child not reaped yet
// with ok=false.
func TestStartFuncStop(t *testing.T) {
	r, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	called := make(chan bool, 1)
	err = r.StartFunc(func() (int, error) {
		var err error
		pid, err = syscall.ForkExec("/bin/sleep", []string{"sleep", "10"}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
		return pid, err
	}, func(_ Status, ok bool) { called <- ok })
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if ok := <-called; ok {
		t.Error("function called with ok=true for a child still running")
	}
	syscall.Kill(pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
}

// TestSIGCHLDStillNotified: with the reaper's own SIGCHLD handler in
// place (sigchld_cgo.go), os/signal still delivers SIGCHLD to a channel
// registered for it.
func TestSIGCHLDStillNotified(t *testing.T) {
	r := newReaper(t, nil)
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGCHLD)
	defer signal.Stop(c)
	_, exit := sh(t, r, "exit 0")
	wait(t, exit)
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("no SIGCHLD on the channel")
	}
}

// TestReapersInTurn: reapers started and stopped one after another (more
// than there are eventfd slots) each see their child's exit.
func TestReapersInTurn(t *testing.T) {
	for i := range 12 {
		r, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, exit := sh(t, r, "exit "+strconv.Itoa(i))
		if st := wait(t, exit); st.Wait.ExitStatus() != i {
			t.Errorf("reaper %d: %v", i, st)
		}
		r.Stop()
	}
}

// TestReapDeliversAtOnce: a child's exit is delivered; Reap with nothing
// new to reap (no SIGCHLD since) returns at once.
func TestReapDeliversAtOnce(t *testing.T) {
	r := newReaper(t, nil)
	got := make(chan Status, 1)
	err := r.StartFunc(func() (int, error) {
		return syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	}, func(st Status, ok bool) { got <- st })
	if err != nil {
		t.Fatal(err)
	}
	wait(t, got)
	for range 100 {
		r.Reap() // nothing to reap
	}
}
