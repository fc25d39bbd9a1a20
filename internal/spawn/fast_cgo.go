//go:build cgo && amd64

package spawn

// #cgo CFLAGS: -O2 -fno-stack-protector
// #include <linux/futex.h>
// #include "fastspawn.h"
import "C"

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
)

// fastBuilt says whether this build has the fast spawn path.
const fastBuilt = true

// fastAvailable reports whether the fast path works here: the C
// constructor recorded sockd's starting RLIMIT_NOFILE (see nofileRestore)
// and the kernel marks fds close-on-exec with close_range(2) (Linux 5.11).
var fastAvailable = sync.OnceValue(func() bool {
	var cur, max C.uint64_t
	if C.fs_nofile_at_start(&cur, &max) == 0 {
		return false
	}
	return unix.CloseRange(math.MaxUint32, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil
})

// pidfdIDs says whether pidfds live on pidfs here, so that the child
// looks for its LISTEN_PIDFDID.
var pidfdIDs = sync.OnceValue(func() bool {
	_, ok := pidfdID()
	return ok
})

// fastSpec is one spawn prepared for fs_prepare, and what the parent
// needs to word the child's failure.
type fastSpec struct {
	args   C.struct_fs_args
	strs   []byte
	fds    []C.int32_t
	groups []C.uint32_t

	s     *Spec
	dir   string
	creds *credentials
	limit syscall.Rlimit // with FS_NOFILE_SET
}

// spawnFast starts s with the C spawner (fastspawn.c) and returns once
// the child is in its own session, so that its process group can be
// signalled (or at once with s.NoSessionWait). It returns ok=false, having done nothing, when this build or
// kernel has no fast path, a user or group of s is unknown, or s.PidEnv
// names variables (the child does not write its pid there): the shim
// then starts s and reports the failure.
func spawnFast(r *reaper.Reaper, s *Spec) (p *Process, ok bool, err error) {
	if fastDisabled.Load() || !fastAvailable() || len(s.PidEnv) > 0 || !fastCgroups(s.Cgroups) || s.Sandbox != nil {
		return nil, false, nil
	}
	creds, _, err := resolveCredentials(s.User, s.Group, s.SupplementaryGroups)
	if err != nil {
		return nil, false, nil
	}
	sweepChildren()
	var fds fdSet
	defer fds.closeAll()
	files, logs, err := s.stdio(&fds)
	if err != nil {
		return nil, true, err
	}
	files = append(files, intsToUintptrs(s.Files)...)
	fs, err := s.prepareFast(files, creds)
	if err != nil {
		return nil, true, fmt.Errorf("spawn %s: %w", s.Path, err)
	}
	block := fs.prepare()
	if block == nil {
		return nil, true, fmt.Errorf("spawn %s: %w", s.Path, syscall.ENOMEM)
	}
	var pid int
	exit, err := s.startChild(r, func() (int, error) {
		ret := C.fs_clone(block)
		if ret < 0 {
			return 0, os.NewSyscallError("clone", syscall.Errno(-ret))
		}
		pid = int(ret)
		return pid, nil
	})
	if err != nil {
		C.fs_free(block)
		return nil, true, fmt.Errorf("spawn %s: %w", s.Path, err)
	}
	p = &Process{Pid: pid, Exit: exit, execDone: make(chan struct{}), outDone: make(chan struct{}),
		child: &fastChild{block: block, fs: fs}}
	if !s.NoSessionWait {
		// Nothing else knows the block yet, so it stays allocated while
		// we sleep on it.
		sleepWhile(p.child.busy(), func(v int32) bool { return v == C.FS_CLONED })
	}
	children.Lock()
	children.m[p] = struct{}{}
	children.Unlock()
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	p.startLogCopiers(logs, &fds, log, s.Unit)
	return p, true, nil
}

// fastChild is the parent's side of a child of the fast path.
type fastChild struct {
	block   unsafe.Pointer // the child's; nil once freed
	fs      *fastSpec      // to word a failure
	left    bool           // the child left its block: ExecDone is closed
	waiting bool           // watchExec sleeps on the block: keep it
}

// children are the fast path's children whose blocks are not freed yet.
// Nothing waits for a child to leave its block unless ExecDone is called:
// each spawn collects the children that have left since, and ExecDone
// collects its own.
var children = struct {
	sync.Mutex
	m map[*Process]struct{}
}{m: make(map[*Process]struct{})}

// sweepChildren collects every child that has left its block.
func sweepChildren() {
	children.Lock()
	defer children.Unlock()
	for p := range children.m {
		p.collect()
	}
}

// collect reports whether p's child has left its block, by exec or exit.
// Then it closes ExecDone (once), with the failure the child recorded, if
// any, and frees the block unless watchExec sleeps on it. children must
// be held.
func (p *Process) collect() bool {
	c := p.child
	if !c.left {
		h := (*C.struct_fs_head)(c.block)
		if atomic.LoadInt32(c.busy()) != 0 {
			return false
		}
		c.left = true
		if h.status.code != 0 {
			p.execErr = c.fs.failure(h.status)
		}
		close(p.execDone)
	}
	if !c.waiting && c.block != nil {
		C.fs_free(c.block)
		c.block, c.fs = nil, nil
		delete(children.m, p)
	}
	return true
}

// busy returns the futex word of c's block (see fs_head).
func (c *fastChild) busy() *int32 {
	return (*int32)(unsafe.Pointer(&(*C.struct_fs_head)(c.block).busy))
}

// watchExec, on the first call of ExecDone, makes sure that ExecDone is
// closed when the child leaves its block: by a goroutine that sleeps on
// the block's busy word, which the kernel clears and wakes.
func (p *Process) watchExec() {
	children.Lock()
	defer children.Unlock()
	if p.collect() {
		return
	}
	p.child.waiting = true // keep the block for awaitLeft
	go p.awaitLeft(p.child.busy())
}

// awaitLeft sleeps until the child has left its block, then collects p.
func (p *Process) awaitLeft(busy *int32) {
	sleepWhile(busy, func(v int32) bool { return v != 0 })
	children.Lock()
	defer children.Unlock()
	p.child.waiting = false
	p.collect()
}

// sleepWhile sleeps on the futex word w while cond holds for its value.
func sleepWhile(w *int32, cond func(int32) bool) {
	for {
		v := atomic.LoadInt32(w)
		if !cond(v) {
			return
		}
		// EAGAIN if w changed already, EINTR: look again.
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), C.FUTEX_WAIT, uintptr(v), 0, 0, 0)
	}
}

// prepare copies fs into a new C block for fs_clone; nil means out of
// memory.
func (fs *fastSpec) prepare() unsafe.Pointer {
	var fdp *C.int32_t
	if len(fs.fds) > 0 {
		fdp = &fs.fds[0]
	}
	var gp *C.uint32_t
	if len(fs.groups) > 0 {
		gp = &fs.groups[0]
	}
	return C.fs_prepare(&fs.args, (*C.char)(unsafe.Pointer(&fs.strs[0])), C.size_t(len(fs.strs)), fdp, gp)
}

// prepareFast lays s out for fs_prepare; files are the fds that become 0,
// 1, 2, 3, …
func (s *Spec) prepareFast(files []uintptr, creds *credentials) (*fastSpec, error) {
	fs := &fastSpec{s: s, creds: creds}
	a := &fs.args
	argv := s.argv()
	env := s.directEnv() // LISTEN_FDS and LISTEN_FDNAMES, without any other LISTEN_*
	if creds != nil {
		env = creds.userEnv(env)
	}
	home := ""
	if creds != nil {
		home = creds.home
	}
	fs.dir = workingDir(s.Dir, home)
	a.argc, a.envc = C.int32_t(len(argv)), C.int32_t(len(env))
	strs := make([]string, 0, len(argv)+len(env)+5)
	strs = append(append(append(strs, s.Path), argv...), env...)
	strs = append(strs, fs.dir)
	stdio := [3]Stdio{s.Stdin, s.Stdout, s.Stderr}
	for i, st := range stdio {
		path := ""
		switch {
		case st.Kind == StdioInherit && i > 0 && stdio[i-1].Kind >= StdioFile:
			a.stdio_mode[i] = C.FS_STDIO_DUP_PREV
		case st.Kind >= StdioFile:
			a.stdio_mode[i] = C.FS_STDIO_OPEN
			a.stdio_flags[i] = C.int32_t(stdioFlags(i, st.Kind))
			path = st.Path
		}
		strs = append(strs, path)
	}
	for _, str := range strs {
		if strings.IndexByte(str, 0) >= 0 {
			return nil, syscall.EINVAL
		}
		fs.strs = append(append(fs.strs, str...), 0)
	}

	a.nfds = C.int32_t(len(files))
	for _, fd := range files {
		fs.fds = append(fs.fds, C.int32_t(fd))
	}
	if len(s.Files) > 0 {
		a.listen_pid = 1
		if pidfdIDs() {
			a.listen_pidfdid = 1
		}
	}
	umask := DefaultUMask
	if s.UMask != nil {
		umask = *s.UMask
	}
	a.umask = C.int32_t(umask.Perm())
	if l := s.LimitNOFILE; l != nil {
		fs.limit = syscall.Rlimit{Cur: l.Soft, Max: l.Hard}
		a.nofile, a.nofile_cur, a.nofile_max = C.FS_NOFILE_SET, C.uint64_t(l.Soft), C.uint64_t(l.Hard)
	} else if l, ok := nofileRestore(); ok {
		a.nofile, a.nofile_cur, a.nofile_max = C.FS_NOFILE_RESTORE, C.uint64_t(l.Cur), C.uint64_t(l.Max)
	}
	a.uid, a.gid = -1, -1
	if c := creds; c != nil {
		a.uid, a.gid = C.int64_t(c.uid), C.int64_t(c.gid)
		if c.setGroups {
			a.set_groups, a.ngroups = 1, C.int32_t(len(c.groups))
			for _, g := range c.groups {
				fs.groups = append(fs.groups, C.uint32_t(g))
			}
		}
	}
	if s.DirOptional {
		a.dir_optional = 1
	}
	if s.NoNewPrivileges {
		a.no_new_privs = 1
	}
	if s.Attrs != nil || len(s.Cgroups) > 0 {
		fillFastAttrs(&a.attrs, s.Attrs, s.Cgroups)
	}
	return fs, nil
}

// nofileRestore returns the RLIMIT_NOFILE a child must get when the unit
// sets none: the one sockd started with, if the Go runtime raised it and
// nothing changed it since. This is what Go's ForkExec does (its record of
// the original limit is not exported; the C constructor keeps its own).
func nofileRestore() (syscall.Rlimit, bool) {
	var cur, max C.uint64_t
	if C.fs_nofile_at_start(&cur, &max) == 0 {
		return syscall.Rlimit{}, false
	}
	orig := syscall.Rlimit{Cur: uint64(cur), Max: uint64(max)}
	if orig.Max == 0 || orig.Cur >= orig.Max-1 {
		return syscall.Rlimit{}, false // Go left it alone
	}
	var now syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now) != nil || now.Cur != orig.Max-1 || now.Max != orig.Max {
		return syscall.Rlimit{}, false
	}
	return orig, true
}

// failure words the failure the child recorded as the shim would.
func (fs *fastSpec) failure(st C.struct_fs_status) error {
	code, errno, step := int(st.code), syscall.Errno(st.err), st.step
	s := fs.s
	var err error
	switch step {
	case C.FS_STEP_SETSID:
		err = os.NewSyscallError("setsid", errno)
	case C.FS_STEP_FCNTL:
		err = os.NewSyscallError("fcntl", errno)
	case C.FS_STEP_DUP3:
		err = os.NewSyscallError("dup3", errno)
	case C.FS_STEP_CLOSE_RANGE:
		err = os.NewSyscallError("close_range", errno)
	case C.FS_STEP_OPEN:
		path := s.Stdin.Path
		switch code {
		case ExitStdout:
			path = s.Stdout.Path
		case ExitStderr:
			path = s.Stderr.Path
		}
		err = &os.PathError{Op: "open", Path: path, Err: errno}
	case C.FS_STEP_DUP2:
		err = os.NewSyscallError("dup2", errno)
	case C.FS_STEP_RLIMIT:
		err = fmt.Errorf("setrlimit RLIMIT_NOFILE %d:%d: %w", fs.limit.Cur, fs.limit.Max, errno)
	case C.FS_STEP_SETGROUPS:
		err = fmt.Errorf("setgroups %v: %w", fs.creds.groups, errno)
	case C.FS_STEP_SETGID:
		err = fmt.Errorf("setgid %d: %w", fs.creds.gid, errno)
	case C.FS_STEP_SETUID:
		err = fmt.Errorf("setuid %d: %w", fs.creds.uid, errno)
	case C.FS_STEP_CHDIR:
		err = &os.PathError{Op: "chdir", Path: fs.dir, Err: errno}
	case C.FS_STEP_SIGMASK:
		err = os.NewSyscallError("sigprocmask", errno)
	case C.FS_STEP_NNP:
		err = os.NewSyscallError("prctl PR_SET_NO_NEW_PRIVS", errno)
	case C.FS_STEP_EXECVE:
		err = &os.PathError{Op: "execve", Path: s.Path, Err: errno}
	default:
		if err = attrsFailure(s.Attrs, s.Cgroups, int(step), errno); err == nil {
			err = fmt.Errorf("step %d: %w", step, errno)
		}
	}
	return &ExecError{Code: code, Errno: errno, Msg: err.Error()}
}

// WaitChildrenExec waits until every child of the fast path has left
// sockd's memory (exec'ed or exited). Until then a child holds copies of
// sockd's fds, the control socket's lock among them: sockd calls it
// before it re-executes itself, so that the next image finds the lock
// free.
func WaitChildrenExec() {
	children.Lock()
	var pending []*Process
	for p := range children.m {
		if !p.collect() {
			pending = append(pending, p)
		}
	}
	children.Unlock()
	for _, p := range pending {
		<-p.ExecDone()
	}
}
