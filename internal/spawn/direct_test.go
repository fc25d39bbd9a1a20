package spawn

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/units"
)

// directReport spawns the test binary in report mode with SpawnDirect,
// stdin on /dev/null and stdout on a socket, and returns its report.
func directReport(t *testing.T, s *Spec, spawnFn func(*Spec) (*Process, error)) (*Process, *report) {
	t.Helper()
	conn, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(conn[0]), "conn")
	defer r.Close()
	s.Path = testBinary(t)
	s.Argv = []string{"child"}
	s.Env = append(s.Env, "SPAWN_TEST_CHILD=report")
	s.Stdout = Stdio{Kind: StdioFD, FD: conn[1]}
	p, err := spawnFn(s)
	syscall.Close(conn[1]) // the child has its copy
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-p.Exit:
		if !st.Wait.Exited() || st.Wait.ExitStatus() != 0 {
			t.Fatalf("child: %v", st)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child did not exit")
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return p, &rep
}

// TestSpawnDirect: without the shim the program still gets its own
// session, fds 0–2 only, "/" as working directory, umask 0022, no
// ignored or blocked signal and no LISTEN_* or shim variable.
func TestSpawnDirect(t *testing.T) { bothPaths(t, testSpawnDirect) }

func testSpawnDirect(t *testing.T) {
	defer unignoreSignals()()
	r := newReaper(t)
	s := &Spec{Env: []string{"LISTEN_FDS=1", "FOO=bar"}}
	if NeedsShim(s) {
		t.Fatalf("NeedsShim(%+v) = true (process start state %+v)", s, startState)
	}
	p, rep := directReport(t, s, func(s *Spec) (*Process, error) { return SpawnDirect(r, s) })
	if rep.Pid != p.Pid || rep.Sid != p.Pid || rep.Pgid != p.Pid {
		t.Errorf("pid %d sid %d pgid %d; want all %d", rep.Pid, rep.Sid, rep.Pgid, p.Pid)
	}
	if !slices.Equal(rep.Inherited, []int{0, 1, 2}) {
		t.Errorf("child inherited fds %v: %v", rep.Inherited, rep.FDs)
	}
	if rep.Cwd != "/" {
		t.Errorf("working directory %q", rep.Cwd)
	}
	checkStatus(t, rep, map[string]string{"Umask": "0022", "SigBlk": "0000000000000000", "SigIgn": "0000000000000000"})
	for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", shimEnv} {
		if v, ok := rep.env(k); ok {
			t.Errorf("%s=%s in the environment", k, v)
		}
	}
	if v, _ := rep.env("FOO"); v != "bar" {
		t.Errorf("FOO=%q", v)
	}
}

// TestSpawnDirectExecDone: SpawnDirect returns while the program runs;
// ExecDone closes once it runs (at once without the fast path: Go's
// ForkExec returns after the exec).
func TestSpawnDirectExecDone(t *testing.T) { bothPaths(t, testSpawnDirectExecDone) }

func testSpawnDirectExecDone(t *testing.T) {
	defer unignoreSignals()()
	r := newReaper(t)
	p, err := SpawnDirect(r, &Spec{Path: "/bin/sleep", Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(p.Pid, syscall.SIGKILL)
		<-p.Exit
	}()
	if p.child == nil {
		select {
		case <-p.execDone:
		default:
			t.Error("ExecDone not closed when SpawnDirect returned")
		}
	}
	checkExecDone(t, p)
}

// TestSpawnDirectMarksInheritedFDs: an fd that sockd holds without
// close-on-exec (inherited from its parent, say) does not reach a program
// started without the shim: SpawnDirect marks it close-on-exec first (the
// fast path's child marks its own copy).
func TestSpawnDirectMarksInheritedFDs(t *testing.T) { bothPaths(t, testSpawnDirectMarksInheritedFDs) }

func testSpawnDirectMarksInheritedFDs(t *testing.T) {
	defer unignoreSignals()()
	r := newReaper(t)
	leak, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0) // no O_CLOEXEC, on purpose
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leak)
	p, rep := directReport(t, &Spec{}, func(s *Spec) (*Process, error) { return SpawnDirect(r, s) })
	if !slices.Equal(rep.Inherited, []int{0, 1, 2}) {
		t.Errorf("child inherited fds %v (fd %d was left without close-on-exec): %v", rep.Inherited, leak, rep.FDs)
	}
	if p.child != nil {
		return // the child marked its copy
	}
	if fl, err := unix.FcntlInt(uintptr(leak), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d flags %#x, %v: not marked close-on-exec", leak, fl, err)
	}
}

// TestSpawnDirectFallback: a direct exec that fails is retried through
// the shim, which reports the failure with systemd's exit code.
func TestSpawnDirectFallback(t *testing.T) { bothPaths(t, testSpawnDirectFallback) }

func testSpawnDirectFallback(t *testing.T) {
	r := newReaper(t)
	for _, tc := range []struct {
		name string
		spec Spec
		code int
	}{
		{"missing program", Spec{Path: "/nonexistent/prog"}, ExitExec},
		{"missing directory", Spec{Path: "/bin/true", Dir: "/nonexistent/dir"}, ExitChdir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := SpawnDirect(r, &tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			st := <-p.Exit
			var ee *ExecError
			if err := p.WaitExec(); !errors.As(err, &ee) || ee.Code != tc.code {
				t.Errorf("WaitExec = %v; want an ExecError with code %d", err, tc.code)
			}
			if st.Wait.ExitStatus() != tc.code {
				t.Errorf("exit %v; want status %d", st, tc.code)
			}
		})
	}
}

func TestNeedsShim(t *testing.T) {
	defer unignoreSignals()()
	umask := os.FileMode(0o077)
	same := DefaultUMask
	for _, tc := range []struct {
		name string
		spec Spec
		want bool
	}{
		{"plain", Spec{}, false},
		{"default umask given", Spec{UMask: &same}, false},
		{"stdio fd and log", Spec{Stdin: Stdio{Kind: StdioFD, FD: 5}, Stdout: Stdio{Kind: StdioInherit}, Stderr: Stdio{Kind: StdioLog}}, false},
		{"working directory", Spec{Dir: "/tmp", DirOptional: true}, false},
		{"fds", Spec{Files: []int{5}, Names: []string{"x"}}, true},
		{"user", Spec{User: "nobody"}, true},
		{"group", Spec{Group: "nogroup"}, true},
		{"groups", Spec{SupplementaryGroups: []string{"adm"}}, true},
		{"limit", Spec{LimitNOFILE: &units.Rlimit{Soft: 10, Hard: 10}}, true},
		{"no new privileges", Spec{NoNewPrivileges: true}, true},
		{"umask", Spec{UMask: &umask}, true},
		{"output file", Spec{Stdout: Stdio{Kind: StdioAppend, Path: "/tmp/x"}}, true},
		{"input file", Spec{Stdin: Stdio{Kind: StdioFile, Path: "/tmp/x"}}, true},
	} {
		if got := NeedsShim(&tc.spec); got != tc.want {
			t.Errorf("%s: NeedsShim = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSpawnDirectIgnoredSignal: a signal sockd ignores (as under nohup)
// makes SpawnDirect use the shim, which resets it.
func TestSpawnDirectIgnoredSignal(t *testing.T) { bothPaths(t, testSpawnDirectIgnoredSignal) }

func testSpawnDirectIgnoredSignal(t *testing.T) {
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	if !NeedsShim(&Spec{}) {
		t.Error("NeedsShim = false with SIGHUP ignored")
	}
	r := newReaper(t)
	_, rep := directReport(t, &Spec{}, func(s *Spec) (*Process, error) { return SpawnDirect(r, s) })
	checkStatus(t, rep, map[string]string{"SigIgn": "0000000000000000"})
}

// unignoreSignals hands every signal that an earlier test left ignored
// (signal.Reset after signal.Ignore leaves it so) to Go's handler, which
// execve resets, until the returned function is called.
func unignoreSignals() (undo func()) {
	c := make(chan os.Signal, 1)
	ign, _ := statusField("SigIgn", 16)
	for sig := 1; sig < 65; sig++ {
		if ign&(1<<(sig-1)) != 0 && sig != int(syscall.SIGKILL) && sig != int(syscall.SIGSTOP) {
			signal.Notify(c, syscall.Signal(sig))
		}
	}
	return func() { signal.Stop(c) }
}

// BenchmarkSpawnDirectInetd is BenchmarkSpawnTrueWithFD for an inetd-style
// instance (the connection on 0–2) started by SpawnDirect: the fast path
// where there is one.
func BenchmarkSpawnDirectInetd(b *testing.B) { benchInetd(b, SpawnDirect) }

// benchInetd spawns /bin/true with a connected socket on stdin through
// spawn, once per iteration, and waits for its exit.
func benchInetd(b *testing.B, spawn func(*reaper.Reaper, *Spec) (*Process, error)) {
	r := newReaper(b)
	p, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	s := &Spec{Path: "/bin/true", Stdin: Stdio{Kind: StdioFD, FD: p[1]}, Stdout: Stdio{Kind: StdioInherit}, Stderr: Stdio{Kind: StdioInherit}}
	for b.Loop() {
		p, err := spawn(r, s)
		if err != nil {
			b.Fatal(err)
		}
		<-p.Exit
		<-p.ExecDone()
	}
}

// BenchmarkSpawnGoDirectInetd is the same with Go's ForkExec, SpawnDirect
// without the fast path.
func BenchmarkSpawnGoDirectInetd(b *testing.B) {
	fastDisabled.Store(true)
	defer fastDisabled.Store(false)
	BenchmarkSpawnDirectInetd(b)
}

// BenchmarkSpawnShimInetd is the same through the shim.
func BenchmarkSpawnShimInetd(b *testing.B) {
	fastDisabled.Store(true)
	defer fastDisabled.Store(false)
	benchInetd(b, Spawn)
}
