package spawn

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

// bothPaths runs f with the fast path, where this build and kernel have
// it, and without it (the shim, and SpawnDirect's plain ForkExec).
func bothPaths(t *testing.T, f func(t *testing.T)) {
	t.Run("fast", func(t *testing.T) {
		requireFast(t)
		f(t)
	})
	t.Run("pure-go", func(t *testing.T) {
		fastDisabled.Store(true)
		defer fastDisabled.Store(false)
		f(t)
	})
}

// requireFast skips the test (fails it under CI=true) without the fast
// path.
func requireFast(t *testing.T) {
	t.Helper()
	testenv.Require(t, fastAvailable(), "no fast spawn path: it needs cgo, amd64, an externally linked binary and close_range CLOSE_RANGE_CLOEXEC (Linux 5.11)")
}

// checkPath fails t if p was not started the way bothPaths asked for.
func checkPath(t *testing.T, p *Process) {
	t.Helper()
	if got, want := p.child != nil, fastAvailable() && !fastDisabled.Load(); got != want {
		t.Errorf("started by the fast path: %v, want %v", got, want)
	}
}

// TestFastPathAvailable: a cgo build on a kernel with close_range(2)
// CLOSE_RANGE_CLOEXEC (Linux 5.11) has the fast path.
func TestFastPathAvailable(t *testing.T) {
	testenv.Require(t, fastBuilt, "built without the fast path (CGO_ENABLED=0 or not amd64)")
	err := unix.CloseRange(^uint(0), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	testenv.Require(t, err == nil, fmt.Sprintf("close_range CLOSE_RANGE_CLOEXEC: %v", err))
	if !fastAvailable() {
		t.Error("no fast path: did the C constructor run?")
	}
}

// TestFDsBelowTheirSlot: passed fds whose numbers are below the slot they
// go to (here sockd's own stderr and stdout as fds 4 and 6) reach the
// child intact, not overwritten by the fds moved into place before them.
func TestFDsBelowTheirSlot(t *testing.T) { bothPaths(t, testFDsBelowTheirSlot) }

func testFDsBelowTheirSlot(t *testing.T) {
	r := newReaper(t)
	tcp := tcpListener(t)
	dgram := socketPair(t, syscall.SOCK_DGRAM)[0]
	_, rep := runReport(t, r, &Spec{
		Files: []int{tcp, 2, dgram, 1, tcp},
		Names: []string{"a", "b", "c", "d", "e"},
	})
	if !slices.Equal(rep.Inherited, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("child inherited fds %v, want 0-7: %v", rep.Inherited, rep.FDs)
	}
	for fd, want := range map[int]uint64{3: inode(t, tcp), 4: inode(t, 2), 5: inode(t, dgram), 6: inode(t, 1), 7: inode(t, tcp)} {
		if rep.Ino[fd] != want {
			t.Errorf("fd %d: inode %d, want %d (%v)", fd, rep.Ino[fd], want, rep.FDs)
		}
	}
	if v, _ := rep.env("LISTEN_FDNAMES"); v != "a:b:c:d:e" {
		t.Errorf("LISTEN_FDNAMES=%q", v)
	}
}

// TestSpawnConcurrent: spawns from many goroutines at once each give
// their child its own fd 3 and its own pid as LISTEN_PID.
func TestSpawnConcurrent(t *testing.T) { bothPaths(t, testSpawnConcurrent) }

func testSpawnConcurrent(t *testing.T) {
	r := newReaper(t)
	const n = 48
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- spawnAndAsk(r, i%2 == 0) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// spawnAndAsk spawns a shell that writes its pid and LISTEN_PID to fd 3,
// one end of a new socket pair, and checks both against Process.Pid. With
// early, it waits for the exec first, else after the exit.
func spawnAndAsk(r *reaper.Reaper, early bool) error {
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(pair[0])
	p, err := Spawn(r, &Spec{
		Path: "/bin/sh", Argv: []string{"sh", "-c", `echo "$$ $LISTEN_PID $LISTEN_FDS" >&3`},
		Files: []int{pair[1]}, Names: []string{"conn"},
	})
	syscall.Close(pair[1])
	if err != nil {
		return err
	}
	if early {
		if err := p.WaitExec(); err != nil {
			return err
		}
	}
	buf := make([]byte, 64)
	n, _ := syscall.Read(pair[0], buf)
	<-p.Exit
	if err := p.WaitExec(); err != nil {
		return err
	}
	pid := strconv.Itoa(p.Pid)
	if got, want := strings.TrimSpace(string(buf[:max(n, 0)])), pid+" "+pid+" 1"; got != want {
		return fmt.Errorf("child %d wrote %q, want %q", p.Pid, got, want)
	}
	return nil
}

// TestFailuresWordedAlike: the fast path reports a failed step with the
// same code, errno and words as the shim.
func TestFailuresWordedAlike(t *testing.T) {
	requireFast(t)
	r := newReaper(t)
	exe := testBinary(t)
	for _, s := range []Spec{
		{Path: "/nonexistent/program"},
		{Path: "/etc/passwd"},
		{Path: exe, Dir: "/nonexistent"},
		{Path: exe, Stdin: Stdio{Kind: StdioFile, Path: "/nonexistent/in"}},
		{Path: exe, Stdout: Stdio{Kind: StdioAppend, Path: "/nonexistent/out"}},
		{Path: exe, Stderr: Stdio{Kind: StdioTruncate, Path: "/nonexistent/err"}},
		{Path: exe, LimitNOFILE: &units.Rlimit{Soft: 10, Hard: 5}},
	} {
		var errs [2]error
		for i, disabled := range []bool{false, true} {
			fastDisabled.Store(disabled)
			p, err := Spawn(r, &s)
			fastDisabled.Store(false)
			if err != nil {
				t.Fatal(err)
			}
			errs[i] = p.WaitExec() // before the exit: watchExec's goroutine
			select {
			case <-p.Exit:
			case <-time.After(20 * time.Second):
				t.Fatal("child did not exit")
			}
		}
		var fast, shim *ExecError
		if !errors.As(errs[0], &fast) || !errors.As(errs[1], &shim) || *fast != *shim {
			t.Errorf("fast path: %#v; shim: %#v", errs[0], errs[1])
		}
	}
}

// TestExecDoneBeforeExit: ExecDone is closed once the program runs, not
// when it exits.
func TestExecDoneBeforeExit(t *testing.T) { bothPaths(t, testExecDoneBeforeExit) }

func testExecDoneBeforeExit(t *testing.T) {
	r := newReaper(t)
	p, err := Spawn(r, &Spec{Path: "/bin/sleep", Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(p.Pid, syscall.SIGKILL)
		<-p.Exit
	}()
	checkExecDone(t, p)
}

// TestSignalGroupAtOnce: the process group of a process Spawn returned
// exists: a signal sent to it at once is not lost (the fast path's child
// makes its session after the clone).
func TestSignalGroupAtOnce(t *testing.T) { bothPaths(t, testSignalGroupAtOnce) }

func testSignalGroupAtOnce(t *testing.T) {
	r := newReaper(t)
	for range 20 {
		p, err := Spawn(r, &Spec{Path: "/bin/sleep", Argv: []string{"sleep", "60"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(-p.Pid, syscall.SIGTERM); err != nil {
			syscall.Kill(p.Pid, syscall.SIGKILL)
			t.Errorf("kill(-%d, SIGTERM): %v", p.Pid, err)
		}
		select {
		case st := <-p.Exit:
			if !st.Wait.Signaled() || st.Wait.Signal() != syscall.SIGTERM {
				t.Errorf("pid %d: %v, want killed by SIGTERM", p.Pid, st)
			}
		case <-time.After(20 * time.Second):
			syscall.Kill(p.Pid, syscall.SIGKILL)
			t.Fatalf("pid %d did not exit on SIGTERM", p.Pid)
		}
		p.WaitExec()
	}
}

// checkExecDone fails the test unless p's ExecDone closes, without an
// exec error, while its program runs.
func checkExecDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.ExecDone():
		if err := p.WaitExec(); err != nil {
			t.Error(err)
		}
	case <-time.After(20 * time.Second):
		t.Error("ExecDone not closed while the program runs")
	}
}
