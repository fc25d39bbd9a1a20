package spawn

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
	"golang.org/x/sys/unix"
)

func newReaper(t testing.TB) *reaper.Reaper {
	t.Helper()
	r, err := reaper.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func testBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// run spawns s and waits for its exit.
func run(t *testing.T, r *reaper.Reaper, s *Spec) (*Process, reaper.Status) {
	t.Helper()
	p, err := Spawn(r, s)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-p.Exit:
		<-p.ExecDone()
		<-p.OutputDone()
		return p, st
	case <-time.After(20 * time.Second):
		t.Fatal("child did not exit")
	}
	panic("unreachable")
}

// runReport spawns the test binary in report mode, its stdout going to a
// file, and returns what it reported.
func runReport(t *testing.T, r *reaper.Reaper, s *Spec) (*Process, *report) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	if s.Path == "" {
		s.Path = testBinary(t)
	}
	s.Argv = []string{"child", "arg 1"}
	s.Env = append(s.Env, "SPAWN_TEST_CHILD=report")
	s.Stdout = Stdio{Kind: StdioTruncate, Path: out}
	p, st := run(t, r, s)
	if err := p.WaitExec(); err != nil {
		t.Fatal(err)
	}
	if !st.Wait.Exited() || st.Wait.ExitStatus() != 0 {
		t.Fatalf("child: %v", st)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if rep.Pid != p.Pid {
		t.Errorf("child pid %d, Process.Pid %d", rep.Pid, p.Pid)
	}
	checkPath(t, p)
	return p, &rep
}

func tcpListener(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	return fd
}

func socketPair(t *testing.T, typ int) [2]int {
	t.Helper()
	p, err := syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(p[0]); syscall.Close(p[1]) })
	return p
}

func inode(t *testing.T, fd int) uint64 {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestSpawnPassesFDs(t *testing.T) { bothPaths(t, testSpawnPassesFDs) }

func testSpawnPassesFDs(t *testing.T) {
	r := newReaper(t)
	tcp := tcpListener(t)
	dgram := socketPair(t, syscall.SOCK_DGRAM)[0]
	// An fd sockd forgot to make close-on-exec must not reach the service.
	leak, err := syscall.Open("/dev/zero", syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leak)

	p, rep := runReport(t, r, &Spec{
		Files:  []int{tcp, dgram},
		Names:  []string{"web.socket", "dgram"},
		Env:    []string{"FOO=bar", "LISTEN_PID=1", "LISTEN_FDS=9", "LISTEN_PIDFDID=7"},
		Stderr: Stdio{Kind: StdioInherit},
	})
	wantEnv := map[string]string{
		"LISTEN_PID": strconv.Itoa(p.Pid), "LISTEN_FDS": "2",
		"LISTEN_FDNAMES": "web.socket:dgram", "FOO": "bar",
	}
	t.Logf("LISTEN_PIDFDID of the child: %d", rep.PidfdID)
	if rep.PidfdID != 0 {
		wantEnv["LISTEN_PIDFDID"] = strconv.FormatUint(rep.PidfdID, 10)
	}
	for k, want := range wantEnv {
		if got, _ := rep.env(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if v, ok := rep.env(shimEnv); ok {
		t.Errorf("the shim's variable reached the service: %q", v)
	}
	if !slices.Equal(rep.Inherited, []int{0, 1, 2, 3, 4}) {
		t.Errorf("child inherited fds %v, want 0-4: %v", rep.Inherited, rep.FDs)
	}
	if rep.FDs[0] != "/dev/null" || rep.FDs[1] != rep.FDs[2] {
		t.Errorf("stdio: %v", rep.FDs)
	}
	if rep.SockType[3] != syscall.SOCK_STREAM || rep.SockType[4] != syscall.SOCK_DGRAM {
		t.Errorf("socket types %v", rep.SockType)
	}
	if rep.Ino[3] != inode(t, tcp) || rep.Ino[4] != inode(t, dgram) {
		t.Errorf("fd 3/4 are not the passed sockets: %v", rep.Ino)
	}
	if rep.Nonblock[3] || rep.Nonblock[4] {
		t.Errorf("passed sockets are non-blocking in the child: %v", rep.Nonblock)
	}
	if fl, _ := unix.FcntlInt(uintptr(tcp), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("the listening socket became non-blocking in the parent")
	}
	if rep.Pgid != p.Pid || rep.Sid != p.Pid {
		t.Errorf("pgid %d sid %d, want both %d", rep.Pgid, rep.Sid, p.Pid)
	}
	if !slices.Equal(rep.Args, []string{"child", "arg 1"}) {
		t.Errorf("argv %q", rep.Args)
	}
	checkStatus(t, rep, map[string]string{"Umask": "0022", "NoNewPrivs": "0",
		"SigBlk": "0000000000000000", "SigIgn": "0000000000000000"})
	if rep.Cwd != "/" {
		t.Errorf("cwd %q, want /", rep.Cwd)
	}
}

func checkStatus(t *testing.T, rep *report, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if rep.Status[k] != v {
			t.Errorf("/proc/self/status %s: %q, want %q", k, rep.Status[k], v)
		}
	}
}

func TestSpawnWithoutFDsSetsNoListenVars(t *testing.T) {
	bothPaths(t, testSpawnWithoutFDsSetsNoListenVars)
}

func testSpawnWithoutFDsSetsNoListenVars(t *testing.T) {
	r := newReaper(t)
	_, rep := runReport(t, r, &Spec{Env: []string{"LISTEN_PID=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=x"}})
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"} {
		if v, ok := rep.env(k); ok {
			t.Errorf("%s=%s set without fds", k, v)
		}
	}
	if !slices.Equal(rep.Inherited, []int{0, 1, 2}) {
		t.Errorf("child inherited fds %v: %v", rep.Inherited, rep.FDs)
	}
}

// TestInetd: StandardInput=socket, the connection on 0 and 1.
func TestInetd(t *testing.T) { bothPaths(t, testInetd) }

func testInetd(t *testing.T) {
	r := newReaper(t)
	conn := socketPair(t, syscall.SOCK_STREAM)
	p, err := Spawn(r, &Spec{
		Path: testBinary(t), Env: []string{"SPAWN_TEST_CHILD=echo"},
		Stdin: Stdio{Kind: StdioFD, FD: conn[1]}, Stdout: Stdio{Kind: StdioInherit},
	})
	if err != nil {
		t.Fatal(err)
	}
	syscall.Write(conn[0], []byte("hello\n"))
	syscall.Shutdown(conn[0], syscall.SHUT_WR)
	buf := make([]byte, 64)
	n, _ := syscall.Read(conn[0], buf)
	if got := string(buf[:max(n, 0)]); got != "HELLO\n" {
		t.Errorf("echo: %q", got)
	}
	if st := <-p.Exit; st.Wait.ExitStatus() != 0 {
		t.Errorf("child: %v", st)
	}
	if err := p.WaitExec(); err != nil {
		t.Error(err)
	}
}

func TestDropPrivileges(t *testing.T) { bothPaths(t, testDropPrivileges) }

func testDropPrivileges(t *testing.T) {
	testenv.RequireRoot(t, "drops privileges to nobody")
	// nobody must be able to run the binary and enter the directory.
	dir, err := os.MkdirTemp("", "spawn-nobody")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "child")
	copyFile(t, testBinary(t), bin)

	r := newReaper(t)
	umask := os.FileMode(0o077)
	_, rep := runReport(t, r, &Spec{
		Path: bin, User: "nobody", SupplementaryGroups: []string{"daemon"},
		NoNewPrivileges: true, UMask: &umask, Dir: dir,
		LimitNOFILE: &units.Rlimit{Soft: 512, Hard: 1024},
	})
	daemonGID, _ := lookupGroup("daemon")
	if rep.Uid != 65534 || rep.Gid != 65534 {
		t.Errorf("uid %d gid %d, want 65534", rep.Uid, rep.Gid)
	}
	if want := []int{daemonGID, 65534}; !slices.Equal(rep.Groups, want) {
		t.Errorf("groups %v, want %v", rep.Groups, want)
	}
	checkStatus(t, rep, map[string]string{"Umask": "0077", "NoNewPrivs": "1"})
	// A Go child raises its own soft limit: ask a shell.
	out := filepath.Join(dir, "limits")
	_, st := run(t, r, &Spec{
		Path: "/bin/sh", Argv: []string{"sh", "-c", "ulimit -Sn; ulimit -Hn"}, User: "nobody",
		LimitNOFILE: &units.Rlimit{Soft: 512, Hard: 1024}, Stdout: Stdio{Kind: StdioTruncate, Path: out},
	})
	if b, _ := os.ReadFile(out); st.Wait.ExitStatus() != 0 || string(b) != "512\n1024\n" {
		t.Errorf("RLIMIT_NOFILE: %q (%v)", b, st)
	}
	if rep.Cwd != dir {
		t.Errorf("cwd %q, want %q", rep.Cwd, dir)
	}
	if u, _ := rep.env("USER"); u != "nobody" {
		t.Errorf("USER=%q", u)
	}
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestExecFailures(t *testing.T) { bothPaths(t, testExecFailures) }

func testExecFailures(t *testing.T) {
	r := newReaper(t)
	exe := testBinary(t)
	tests := []struct {
		name string
		spec Spec
		code int
		is   error
	}{
		{"exec", Spec{Path: "/nonexistent/program"}, ExitExec, fs.ErrNotExist},
		{"user", Spec{Path: exe, User: "no-such-user-sockd"}, ExitUser, nil},
		{"group", Spec{Path: exe, Group: "no-such-group-sockd"}, ExitGroup, nil},
		{"supplementary", Spec{Path: exe, User: "nobody", SupplementaryGroups: []string{"no-such-group"}}, ExitGroup, nil},
		{"chdir", Spec{Path: exe, Dir: "/nonexistent"}, ExitChdir, fs.ErrNotExist},
		{"stdin", Spec{Path: exe, Stdin: Stdio{Kind: StdioFile, Path: "/nonexistent/in"}}, ExitStdin, fs.ErrNotExist},
		{"stdout", Spec{Path: exe, Stdout: Stdio{Kind: StdioAppend, Path: "/nonexistent/out"}}, ExitStdout, fs.ErrNotExist},
		{"stderr", Spec{Path: exe, Stderr: Stdio{Kind: StdioTruncate, Path: "/nonexistent/err"}}, ExitStderr, fs.ErrNotExist},
		{"limits", Spec{Path: exe, LimitNOFILE: &units.Rlimit{Soft: 10, Hard: 5}}, ExitLimits, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, st := run(t, r, &tt.spec)
			err := p.WaitExec()
			var ee *ExecError
			if !errors.As(err, &ee) || ee.Code != tt.code {
				t.Fatalf("WaitExec: %v, want code %d", err, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v is not %v", err, tt.is)
			}
			if !st.Wait.Exited() || st.Wait.ExitStatus() != tt.code {
				t.Errorf("exit %v, want %d", st, tt.code)
			}
			t.Log(err)
		})
	}
}

func TestWorkingDirectoryOptional(t *testing.T) { bothPaths(t, testWorkingDirectoryOptional) }

func testWorkingDirectoryOptional(t *testing.T) {
	r := newReaper(t)
	_, rep := runReport(t, r, &Spec{Dir: "/nonexistent", DirOptional: true})
	if rep.Cwd != "/" {
		t.Errorf("cwd %q", rep.Cwd)
	}
	_, rep = runReport(t, r, &Spec{Dir: "~"})
	if rep.Cwd != homeOf("0") {
		t.Errorf("cwd %q, want root's home", rep.Cwd)
	}
}

func TestOutputFiles(t *testing.T) { bothPaths(t, testOutputFiles) }

func testOutputFiles(t *testing.T) {
	r := newReaper(t)
	out := filepath.Join(t.TempDir(), "out")
	spec := func(kind StdioKind) *Spec {
		return &Spec{Path: testBinary(t), Env: []string{"SPAWN_TEST_CHILD=hello"},
			Stdout: Stdio{Kind: kind, Path: out}}
	}
	for _, step := range []struct {
		kind StdioKind
		want string
	}{
		{StdioAppend, "hello\n"},
		{StdioAppend, "hello\nhello\n"},
		{StdioTruncate, "hello\n"},
		{StdioFile, "hello\n"}, // written from the start, not truncated
	} {
		if _, st := run(t, r, spec(step.kind)); st.Wait.ExitStatus() != 0 {
			t.Fatalf("child: %v", st)
		}
		if b, _ := os.ReadFile(out); string(b) != step.want {
			t.Errorf("after kind %d: %q, want %q", step.kind, b, step.want)
		}
	}
}

func TestSpecValidation(t *testing.T) {
	r := newReaper(t)
	for _, s := range []Spec{
		{Path: "relative"},
		{Path: "/bin/true", Files: []int{0}},
		{Path: "/bin/true", Files: []int{0}, Names: []string{"a:b"}},
		{Path: "/bin/true", Files: []int{-1}, Names: []string{"a"}},
		{Path: "/bin/true", Stdin: Stdio{Kind: StdioLog}},
		{Path: "/bin/true", Stdin: Stdio{Kind: StdioInherit}},
		{Path: "/bin/true", Stdout: Stdio{Kind: StdioFile, Path: "rel"}},
	} {
		if _, err := Spawn(r, &s); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// TestLimitNOFILEInherited: without LimitNOFILE= the service gets the
// soft limit sockd started with, not the one Go raised for itself (the
// shim is a Go program too). The test binary runs itself again under a
// low soft limit, which its Go runtime raises, as it does for sockd when
// the hard limit is higher.
func TestLimitNOFILEInherited(t *testing.T) {
	want := os.Getenv("SPAWN_TEST_NOFILE") // set in the run under a low limit
	bothPaths(t, func(t *testing.T) { testLimitNOFILEInherited(t, want) })
	if want != "" {
		return
	}
	t.Run("raised", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		_, st := run(t, newReaper(t), &Spec{
			Path: "/bin/sh", Argv: []string{"sh", "-c", `ulimit -Sn 256 && exec "$0" -test.run='^TestLimitNOFILEInherited$' -test.v`, testBinary(t)},
			Env:    []string{"SPAWN_TEST_NOFILE=256"},
			Stdout: Stdio{Kind: StdioTruncate, Path: out}, Stderr: Stdio{Kind: StdioInherit},
		})
		b, _ := os.ReadFile(out)
		ranFast := strings.Contains(string(b), "--- PASS: TestLimitNOFILEInherited/fast")
		if st.Wait.ExitStatus() != 0 || ranFast != fastAvailable() {
			t.Errorf("the test under a soft limit of 256: %v\n%s", st, b)
		}
	})
}

func testLimitNOFILEInherited(t *testing.T, want string) {
	r := newReaper(t)
	dir := t.TempDir()
	viaSpawn, direct := filepath.Join(dir, "spawn"), filepath.Join(dir, "direct")
	run(t, r, &Spec{Path: "/bin/sh", Argv: []string{"sh", "-c", "ulimit -Sn; ulimit -Hn"},
		Stdout: Stdio{Kind: StdioTruncate, Path: viaSpawn}})
	out, err := syscall.Open(direct, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(out)
	c, err := r.Start(func() (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"sh", "-c", "ulimit -Sn; ulimit -Hn"},
			&syscall.ProcAttr{Files: []uintptr{0, uintptr(out), 2}})
	})
	if err != nil {
		t.Fatal(err)
	}
	<-c
	a, _ := os.ReadFile(viaSpawn)
	b, _ := os.ReadFile(direct)
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("limits through Spawn %q, through ForkExec %q", a, b)
	}
	if want != "" && !strings.HasPrefix(string(a), want+"\n") {
		t.Errorf("soft limit %q, want %s", a, want)
	}
}

// TestIgnoredSignalsReset: a signal sockd ignores (as under nohup, or a
// job-control signal ignored by a shell) is at its default in the
// service. Go's runtime keeps an inherited SIG_IGN of SIGHUP and SIGINT
// for itself, and never looks at SIGTSTP, SIGTTIN and SIGTTOU: the shim
// must reset both kinds.
func TestIgnoredSignalsReset(t *testing.T) { bothPaths(t, testIgnoredSignalsReset) }

func testIgnoredSignalsReset(t *testing.T) {
	sigs := []os.Signal{syscall.SIGHUP, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU}
	signal.Ignore(sigs...)
	defer signal.Reset(sigs...)
	r := newReaper(t)
	_, rep := runReport(t, r, &Spec{})
	checkStatus(t, rep, map[string]string{"SigIgn": "0000000000000000"})
}
