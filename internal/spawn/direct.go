package spawn

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
)

// SpawnDirect starts s like Spawn; sockd uses it for Accept=yes
// instances. Where Spawn has the fast path (see the package doc),
// SpawnDirect is Spawn. Without it (CGO_ENABLED=0, or a kernel before
// Linux 5.11), SpawnDirect uses a plain fork and exec of the program,
// without the shim, when s needs nothing that only the shim can do (see
// NeedsShim). That saves the start of a second Go runtime per process:
// about 2 ms of CPU, the bulk of the cost of a per-connection
// (Accept=yes, StandardInput=socket) instance.
//
// Go's ForkExec does the rest of what the shim does: setsid(2), the
// working directory, fds 0–2, and sockd's original RLIMIT_NOFILE. No other
// fd of sockd reaches the program: Go opens every fd close-on-exec, and
// before each fork SpawnDirect marks every fd above 2 close-on-exec
// (close_range(2) with CLOSE_RANGE_CLOEXEC, under syscall.ForkLock held
// for writing), which catches fds inherited from sockd's own parent or
// opened by non-Go code. An fd that must survive an in-place execve of
// sockd must therefore have its close-on-exec flag cleared only while
// syscall.ForkLock is held for reading, as Go's fork convention asks.
// The program's exec has happened when such a SpawnDirect returns (Go's
// ForkExec uses vfork), so ExecDone is closed at once.
//
// If the direct fork and exec fails (a missing program or working
// directory, say), s is started through the shim instead, so that the
// failure is reported exactly as Spawn reports it: an exit with 203/EXEC,
// 200/CHDIR, and so on.
func SpawnDirect(r *reaper.Reaper, s *Spec) (*Process, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	if p, ok, err := spawnFast(r, s); ok {
		return p, err
	}
	if NeedsShim(s) {
		return Spawn(r, s)
	}
	if p, err := spawnDirect(r, s); err == nil {
		return p, nil
	}
	return Spawn(r, s)
}

// NeedsShim reports whether s needs the shim when there is no fast path,
// i.e. anything that Go's ForkExec cannot do between fork and exec: fds
// to pass (LISTEN_PID is the child's own pid), output files to open
// (StdioFile, StdioAppend, StdioTruncate), User=, Group=,
// SupplementaryGroups=, LimitNOFILE=, NoNewPrivileges=, process
// attributes (Attrs), a umask other
// than sockd's, or resetting signals that sockd ignores (as under nohup)
// or had blocked when it started.
func NeedsShim(s *Spec) bool {
	if len(s.Files) > 0 || s.User != "" || s.Group != "" || len(s.SupplementaryGroups) > 0 ||
		s.LimitNOFILE != nil || s.NoNewPrivileges || s.Attrs != nil || len(s.PidEnv) > 0 || len(s.Cgroups) > 0 ||
		s.Sandbox != nil {
		return true
	}
	for _, st := range [3]Stdio{s.Stdin, s.Stdout, s.Stderr} {
		if st.Kind >= StdioFile {
			return true
		}
	}
	umask := DefaultUMask
	if s.UMask != nil {
		umask = *s.UMask
	}
	return !startState.known || startState.umask != uint32(umask.Perm()) || startState.sigBlocked || anySignalIgnored()
}

// spawnDirect forks and execs s.Path with the reaper's lock held.
func spawnDirect(r *reaper.Reaper, s *Spec) (*Process, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	var fds fdSet
	defer fds.closeAll()
	files, logs, err := s.stdio(&fds)
	if err != nil {
		return nil, err
	}
	if err := markAllCloseOnExec(); err != nil {
		return nil, err
	}
	attr := &syscall.ProcAttr{Dir: s.directDir(), Env: s.directEnv(), Files: files, Sys: &syscall.SysProcAttr{Setsid: true}}
	var pid int
	exit, err := s.startChild(r, func() (int, error) {
		var ferr error
		pid, ferr = syscall.ForkExec(s.Path, s.argv(), attr)
		return pid, ferr
	})
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", s.Path, err)
	}
	p := &Process{Pid: pid, Exit: exit, execDone: make(chan struct{}), outDone: make(chan struct{})}
	close(p.execDone)
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	p.startLogCopiers(logs, &fds, log, s.Unit)
	return p, nil
}

// markAllCloseOnExec sets close-on-exec on every fd above 2, as the
// shim does in the child; here it is done in sockd, so that nothing
// inherited or opened by non-Go code leaks into a program forked without
// the shim.
func markAllCloseOnExec() error {
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Before Linux 5.11: mark each open fd.
	dir, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("spawn: listing fds: %w", err)
	}
	for _, e := range dir {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}

// directEnv is the program's environment: s.Env without LISTEN_* (s has
// no fds to pass) and without the shim's variable, which environ adds
// last.
func (s *Spec) directEnv() []string {
	env := s.environ("")
	return env[:len(env)-1]
}

// directDir is the working directory as the shim would choose it for a
// service without User=: "/" by default, root's home for "~", and "/" for
// a missing optional directory.
func (s *Spec) directDir() string {
	dir := workingDir(s.Dir, "")
	if s.DirOptional {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return "/"
		}
	}
	return dir
}

// anySignalIgnored reports whether sockd ignores a signal now: the
// disposition would survive execve, where the shim resets it. It asks the
// kernel (SigIgn in /proc/self/status, about 15 µs): Go's own record,
// signal.Ignored, can be wrong both ways after signal.Ignore, Reset,
// Notify and Stop of a signal that was ignored when the process started.
func anySignalIgnored() bool {
	ign, ok := statusField("SigIgn", 16)
	return !ok || ign != 0
}

// processStart is what a forked child would inherit from sockd that
// NeedsShim checks, read from /proc/self/status when the package is
// initialised: the umask, and whether sockd was started with signals
// blocked (Go's threads keep that mask, and so does a child forked by
// ForkExec; the shim clears it). It is read at initialisation because a
// later read could catch the main thread while it forks, when Go blocks
// every signal for a moment.
type processStart struct {
	known      bool
	umask      uint32
	sigBlocked bool
}

var startState = readProcessStart()

func readProcessStart() processStart {
	if _, shim := os.LookupEnv(shimEnv); shim {
		return processStart{} // the shim spawns nothing: skip the read
	}
	umask, ok1 := statusField("Umask", 8)
	blocked, ok2 := statusField("SigBlk", 16)
	return processStart{known: ok1 && ok2, umask: uint32(umask), sigBlocked: blocked != 0}
}

// statusField reads a number from /proc/self/status.
func statusField(field string, base int) (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), ":")
		if key == field {
			n, err := strconv.ParseUint(strings.TrimSpace(value), base, 64)
			return n, err == nil
		}
	}
	return 0, false
}
