package spawn

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/sandbox"
	"github.com/sockd/sockd/units"
)

// DefaultUMask is the umask a service gets when Spec.UMask is nil
// (systemd.exec(5) UMask=).
const DefaultUMask os.FileMode = 0o022

// Spec is what Spawn needs to start one service process.
type Spec struct {
	// Unit names the unit in the log records of its output (unit=NAME).
	Unit string
	// Log receives the output of StdioLog streams; nil means slog.Default().
	Log *slog.Logger

	Path string   // absolute path of the program
	Argv []string // argument vector, Argv[0] included; empty means {Path}
	// Env is the service's environment as KEY=VALUE, already built by the
	// caller (Environment=, EnvironmentFile=, NOTIFY_SOCKET, …). Any
	// LISTEN_* variable in it is replaced by Spawn's own.
	Env []string

	// Files are the fds passed as 3, 4, …; the caller keeps owning them
	// and Spawn does not change their flags. Names has one name per fd
	// for LISTEN_FDNAMES: printable ASCII without ":", at most 255 bytes.
	Files []int
	Names []string

	Stdin, Stdout, Stderr Stdio

	Dir         string // WorkingDirectory=; "" means "/", "~" the user's home
	DirOptional bool   // the "-" prefix: if Dir is missing, start in "/"

	User                string // User=: name or numeric uid; "" keeps sockd's
	Group               string // Group=: name or gid; "" means the user's group
	SupplementaryGroups []string

	UMask           *os.FileMode  // nil means DefaultUMask
	LimitNOFILE     *units.Rlimit // nil inherits sockd's original limit
	NoNewPrivileges bool
	// Sandbox, if set, is what the child applies before the exec
	// (internal/sandbox); such a service always spawns through the shim.
	// With Sandbox.Full or NoSetuid, User= and the groups are not switched to.
	Sandbox *sandbox.Plan
	// Attrs are the process attributes (Limit*=, Nice=, …); nil sets none.
	Attrs *Attrs
	// Dirs are made (owned by User= and Group=) before the fork (dirs.go).
	Dirs []Dir
	// Cgroups are cgroup.procs files the process joins (writing "0")
	// before anything else it does in the child; 219/CGROUP if it cannot.
	Cgroups []string
	// PidEnv names variables set to the process's own pid, as
	// WATCHDOG_PID is; the shim sets them (the fast path declines).
	PidEnv []string

	// Exited, if set, receives the process's exit status instead of
	// Process.Exit, which is then nil: the reaper calls it from the
	// goroutine that reaped the process, once, with ok=false if the
	// reaper stopped first (see reaper.Reaper.StartFunc). It may be
	// called before Spawn returns.
	Exited func(st reaper.Status, ok bool)
	// NoSessionWait lets the fast path return right after the clone,
	// before the child has called setsid: until it has, its process
	// group does not exist and kill(-pid) fails with ESRCH, so a caller
	// that stops it must then signal the pid (the child blocks every
	// signal until it has reset their handlers, so the signal waits for
	// it, and a default action then applies). Other paths always wait.
	NoSessionWait bool
}

// startChild registers the child fork starts with r: on Process.Exit's
// channel, or for s.Exited.
func (s *Spec) startChild(r *reaper.Reaper, fork func() (int, error)) (<-chan reaper.Status, error) {
	if s.Exited != nil {
		return nil, r.StartFunc(fork, s.Exited)
	}
	return r.Start(fork)
}

// StdioKind says where a standard stream of the service goes.
type StdioKind uint8

// The kinds of Stdio (StandardInput=, StandardOutput=, StandardError=).
const (
	StdioNull     StdioKind = iota // /dev/null
	StdioInherit                   // stdout: same as stdin; stderr: same as stdout
	StdioFD                        // Stdio.FD, owned by the caller (e.g. the connection)
	StdioLog                       // a pipe into sockd's log, one record per line
	StdioFile                      // file:PATH (written from the start, or read for stdin)
	StdioAppend                    // append:PATH
	StdioTruncate                  // truncate:PATH
)

// Stdio is one standard stream: Kind, with FD for StdioFD and an absolute
// Path for the file kinds. Files are opened in the child (by the fast
// path or the shim) before it drops privileges; failing to open one exits
// 208/STDIN, 209/STDOUT or 222/STDERR.
type Stdio struct {
	Kind StdioKind
	FD   int
	Path string
}

// Process is a spawned service process.
type Process struct {
	Pid int
	// Exit receives the process's exit status from the reaper, then is
	// closed (see reaper.Reaper.Start); nil when Spec.Exited gets it.
	Exit <-chan reaper.Status

	execDone chan struct{}
	execErr  error
	outDone  chan struct{}
	logs     []logFile  // the pipes copied into the log
	child    *fastChild // the fast path's child; nil through the shim
	watch    sync.Once  // calls watchExec for a fast path's child
}

// ExecDone is closed once the program was exec'ed or starting it failed.
func (p *Process) ExecDone() <-chan struct{} {
	if p.child != nil {
		p.watch.Do(p.watchExec)
	}
	return p.execDone
}

// WaitExec waits until the program was exec'ed, and returns nil then, or
// an *ExecError saying which step failed (the process then exits with
// its Code). This is Type=exec's notion of "started". A process killed
// before it got that far also gives nil; Exit tells what happened.
func (p *Process) WaitExec() error {
	<-p.ExecDone()
	return p.execErr
}

// OutputDone is closed when every StdioLog stream of the process has
// reached end of file, i.e. the service and every descendant that
// inherited the pipe have closed it. It is closed at once without them.
func (p *Process) OutputDone() <-chan struct{} { return p.outDone }

const (
	shimArgv0 = "sockd-spawn"      // argv[0] of the shim
	shimEnv   = "SOCKD_SPAWN_SHIM" // the shim's spec; removed before exec
	shimExe   = "/proc/self/exe"   // always the running binary, even if replaced on disk
)

// Spawn starts the service described by s, with r reaping it: with the
// fast path (a C clone, see the package doc) where this build and kernel
// have it, else through the shim. It returns once the process is running
// in its own session and process group; use WaitExec to learn whether
// the program itself started. Spawn may be called concurrently; only the
// fork itself is serialized, by the reaper's lock.
func Spawn(r *reaper.Reaper, s *Spec) (*Process, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	if s.Sandbox != nil && s.Sandbox.Full {
		// The "+" prefix: no user switch either (the directories above
		// still belong to User=, as systemd makes them).
		c := *s
		c.User, c.Group, c.SupplementaryGroups = "", "", nil
		s = &c
	}
	if p, ok, err := spawnFast(r, s); ok {
		return p, err
	}
	return spawnShim(r, s)
}

// fastDisabled makes Spawn use the shim, for tests of the shim in builds
// with the fast path.
var fastDisabled atomic.Bool

// spawnShim starts s, validated, through the shim.
func spawnShim(r *reaper.Reaper, s *Spec) (*Process, error) {
	var fds fdSet
	defer fds.closeAll()
	files, logs, err := s.stdio(&fds)
	if err != nil {
		return nil, err
	}
	files = append(files, intsToUintptrs(s.Files)...)
	statusR, statusW, err := fds.pipe()
	if err != nil {
		return nil, err
	}
	statusFD := len(files)
	files = append(files, uintptr(statusW))
	env := s.environ(encodeShimSpec(s, statusFD))
	sbEnv, err := s.sandboxEnv()
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", s.Path, err)
	}
	env = append(env, sbEnv...)
	argv := append([]string{shimArgv0, s.Path}, s.argv()...)
	attr := &syscall.ProcAttr{Env: env, Files: files, Sys: &syscall.SysProcAttr{Setsid: true}}
	if err := s.sandboxAttr(attr.Sys); err != nil {
		return nil, fmt.Errorf("spawn %s: %w", s.Path, err)
	}
	var pid int
	exit, err := s.startChild(r, func() (int, error) {
		var ferr error
		pid, ferr = syscall.ForkExec(shimExe, argv, attr)
		return pid, ferr
	})
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", s.Path, s.sandboxForkError(err))
	}
	p := &Process{Pid: pid, Exit: exit, execDone: make(chan struct{}), outDone: make(chan struct{})}
	go p.readStatus(fds.keep(statusR))
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	p.startLogCopiers(logs, &fds, log, s.Unit)
	return p, nil
}

func (p *Process) readStatus(f *os.File) {
	defer close(p.execDone)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	switch {
	case err != nil:
		p.execErr = fmt.Errorf("spawn: reading exec status: %w", err)
	case len(b) > 0:
		p.execErr = parseExecStatus(b)
	}
}

func (s *Spec) argv() []string {
	if len(s.Argv) == 0 {
		return []string{s.Path}
	}
	return s.Argv
}

func (s *Spec) validate() error {
	if !filepath.IsAbs(s.Path) {
		return fmt.Errorf("spawn: program path %q is not absolute", s.Path)
	}
	if len(s.Names) != len(s.Files) {
		return fmt.Errorf("spawn: %d fds but %d names", len(s.Files), len(s.Names))
	}
	for _, n := range s.Names {
		if !units.ValidFDName(n) {
			return fmt.Errorf("spawn: invalid fd name %q", n)
		}
	}
	for _, fd := range s.Files {
		if fd < 0 {
			return fmt.Errorf("spawn: invalid fd %d", fd)
		}
	}
	if s.Stdin.Kind == StdioInherit || s.Stdin.Kind == StdioLog {
		return errors.New("spawn: stdin cannot be inherit or log")
	}
	for _, st := range []Stdio{s.Stdin, s.Stdout, s.Stderr} {
		if st.Kind > StdioTruncate {
			return fmt.Errorf("spawn: invalid stdio kind %d", st.Kind)
		}
		if st.Kind >= StdioFile && !filepath.IsAbs(st.Path) {
			return fmt.Errorf("spawn: stdio path %q is not absolute", st.Path)
		}
	}
	return nil
}

// environ returns the shim's environment: s.Env without LISTEN_* and the
// shim variable, plus LISTEN_FDS/LISTEN_FDNAMES and the shim's spec.
func (s *Spec) environ(spec string) []string {
	env := make([]string, 0, len(s.Env)+3)
	for _, kv := range s.Env {
		if strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "SOCKD_SPAWN_") {
			k, _, _ := strings.Cut(kv, "=")
			switch k {
			case "LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES", shimEnv, shimSandboxEnv:
				continue
			}
		}
		env = append(env, kv)
	}
	if n := len(s.Files); n > 0 {
		env = append(env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_FDNAMES="+strings.Join(s.Names, ":"))
	}
	return append(env, shimEnv+"="+spec)
}

// workingDir is the directory to start in for WorkingDirectory=dir:
// "/" for none, the user's home (root's without User= or a home) for "~".
func workingDir(dir, home string) string {
	switch dir {
	case "":
		return "/"
	case "~":
		if home == "" {
			return homeOf("0")
		}
		return home
	}
	return dir
}

func intsToUintptrs(fds []int) []uintptr {
	out := make([]uintptr, len(fds))
	for i, fd := range fds {
		out[i] = uintptr(fd)
	}
	return out
}
