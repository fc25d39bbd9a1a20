package spawn

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// RunShimIfRequested runs the spawn shim and never returns if this process
// was started as one by Spawn; otherwise it returns at once. sockd's main
// function, and the TestMain of any test binary that calls Spawn, must
// call it first thing, before doing anything else.
func RunShimIfRequested() {
	if len(os.Args) < 2 || os.Args[0] != shimArgv0 {
		return
	}
	enc, ok := syscall.Getenv(shimEnv)
	if !ok {
		return
	}
	os.Exit(runShim(enc, os.Args[1], os.Args[2:]))
}

// shim is the state of the shim process.
type shim struct {
	*shimSpec
	env  []string
	home string // the user's home directory, if User= is set
}

// runShim prepares the process and execs path; it returns an exit code
// only on failure, after writing the reason to the status pipe.
func runShim(enc, path string, argv []string) int {
	// PR_SET_NO_NEW_PRIVS and the signal mask are per thread: do them on
	// the thread that calls execve.
	runtime.LockOSThread()
	sp, err := decodeShimSpec(enc)
	if err != nil {
		return ExitFDs // no status fd known; the parent sees exit 202
	}
	sh := &shim{shimSpec: sp}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, shimEnv+"=") && !strings.HasPrefix(kv, shimSandboxEnv+"=") {
			sh.env = append(sh.env, kv)
		}
	}
	plan, err := decodeSandbox()
	if err != nil {
		return sh.fail(ExitNamespace, err)
	}
	steps := []func() (int, error){
		sh.closeOnExec, sh.joinCgroups, sh.setUMask, sh.openStdio, sh.setAttrs, sh.setLimits,
		sh.setCredentials, sh.chdir, sh.resetSignals, sh.noNewPrivs,
	}
	if plan != nil && !plan.Full {
		steps = sh.sandboxSteps(plan)
	}
	for _, step := range steps {
		if code, err := step(); err != nil {
			return sh.fail(code, err)
		}
	}
	for _, k := range sp.pidEnv {
		sh.env = append(sh.env, k+"="+strconv.Itoa(os.Getpid()))
	}
	if sp.nfds > 0 {
		sh.env = append(sh.env, "LISTEN_PID="+strconv.Itoa(os.Getpid()))
		if id, ok := pidfdID(); ok {
			sh.env = append(sh.env, "LISTEN_PIDFDID="+strconv.FormatUint(id, 10))
		}
	}
	if plan != nil && !plan.Full {
		return sh.fail(ExitExec, execSandboxed(path, argv, sh.env))
	}
	err = syscall.Exec(path, argv, sh.env)
	return sh.fail(ExitExec, &os.PathError{Op: "execve", Path: path, Err: err})
}

// fail reports err on the status pipe and returns code.
func (sh *shim) fail(code int, err error) int {
	var errno syscall.Errno
	errors.As(err, &errno)
	syscall.Write(sh.status, formatExecStatus(code, errno, err.Error()))
	return code
}

// closeOnExec marks every fd above the passed ones close-on-exec: the
// status pipe and anything of sockd's that was not (the Go runtime's own
// fds must stay open until the exec, so they are not closed here).
func (sh *shim) closeOnExec() (int, error) {
	first := 3 + sh.nfds
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return 0, nil
	}
	// Before Linux 5.11: mark each open fd.
	dir, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return ExitFDs, err
	}
	for _, e := range dir {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			syscall.CloseOnExec(fd)
		}
	}
	return 0, nil
}

func (sh *shim) setUMask() (int, error) {
	syscall.Umask(sh.umask)
	return 0, nil
}

// openStdio opens the file kinds of stdin, stdout and stderr as root,
// before privileges are dropped, as systemd does.
func (sh *shim) openStdio() (int, error) {
	codes := [3]int{ExitStdin, ExitStdout, ExitStderr}
	for i, st := range sh.stdio {
		switch {
		case st.Kind == StdioInherit:
			if i > 0 && sh.stdio[i-1].Kind >= StdioFile {
				if err := syscall.Dup2(i-1, i); err != nil {
					return codes[i], os.NewSyscallError("dup2", err)
				}
			}
			continue
		case st.Kind < StdioFile:
			continue
		}
		fd, err := syscall.Open(st.Path, stdioFlags(i, st.Kind), 0o666)
		if err != nil {
			return codes[i], &os.PathError{Op: "open", Path: st.Path, Err: err}
		}
		err = syscall.Dup2(fd, i)
		syscall.Close(fd)
		if err != nil {
			return codes[i], os.NewSyscallError("dup2", err)
		}
	}
	return 0, nil
}

// joinCgroups moves the shim, and so the service, into its cgroups.
func (sh *shim) joinCgroups() (int, error) {
	for _, procs := range sh.cgroups {
		if err := os.WriteFile(procs, []byte("0"), 0); err != nil {
			return ExitCgroup, fmt.Errorf("joining cgroup %s: %w", procs, err)
		}
	}
	return 0, nil
}

// setAttrs applies the process attributes (Attrs.apply).
func (sh *shim) setAttrs() (int, error) {
	if sh.attrs == nil {
		return 0, nil
	}
	return sh.attrs.apply()
}

// setLimits applies Limit*=, LimitNOFILE= last. Setting that also stops
// Go from restoring sockd's original soft limit at exec.
func (sh *shim) setLimits() (int, error) {
	if sh.attrs != nil {
		if code, err := sh.attrs.setLimits(); err != nil {
			return code, err
		}
	}
	if sh.nofile == nil {
		return 0, nil
	}
	// As close as the hard limit allows when raising it is not
	// permitted, as systemd's setrlimit_closest.
	if err := setRlimitClosest(unix.RLIMIT_NOFILE, *sh.nofile); err != nil {
		return ExitLimits, fmt.Errorf("setrlimit RLIMIT_NOFILE %d:%d: %w", sh.nofile.Soft, sh.nofile.Hard, err)
	}
	return 0, nil
}

// chdir changes to WorkingDirectory= after the user switch, so that a
// directory only the user may enter works.
func (sh *shim) chdir() (int, error) {
	dir := workingDir(sh.dir, sh.home)
	if err := syscall.Chdir(dir); err != nil {
		if !sh.dirOpt {
			return ExitChdir, &os.PathError{Op: "chdir", Path: dir, Err: err}
		}
		syscall.Chdir("/")
	}
	return 0, nil
}

// resetSignals gives the program default signal dispositions and an empty
// signal mask, as systemd does. Signals ignored when sockd started stay
// ignored in the shim: Go keeps an inherited SIG_IGN of SIGHUP and SIGINT,
// and never touches SIGTSTP, SIGTTIN and SIGTTOU, so signal.Ignored does
// not know them all; the kernel's SigIgn does. Letting Go handle them
// makes execve reset them to the default.
func (sh *shim) resetSignals() (int, error) {
	ign, ok := statusField("SigIgn", 16)
	for sig := syscall.Signal(1); sig < 65; sig++ {
		ignored := signal.Ignored(sig) || ok && ign&(1<<(sig-1)) != 0
		if sig != syscall.SIGKILL && sig != syscall.SIGSTOP && ignored {
			signal.Notify(make(chan os.Signal, 1), sig)
		}
	}
	var empty unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &empty, nil); err != nil {
		return ExitSignalMask, os.NewSyscallError("sigprocmask", err)
	}
	return 0, nil
}

func (sh *shim) noNewPrivs() (int, error) {
	if !sh.nnp {
		return 0, nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return ExitNoNewPrivileges, os.NewSyscallError("prctl PR_SET_NO_NEW_PRIVS", err)
	}
	return 0, nil
}

// pidfdID returns the pidfs inode number of a pidfd for this process, the
// value of LISTEN_PIDFDID, if pidfds live on pidfs (Linux 6.9+).
func pidfdID() (uint64, bool) {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if unix.Fstatfs(fd, &fs) != nil || fs.Type != unix.PID_FS_MAGIC {
		return 0, false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0, false
	}
	return st.Ino, true
}
