package sandbox

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// systemd's exit codes for the steps (systemd.exec(5) "Process Exit Codes").
const (
	exitSecureBits      = 213
	exitUser            = 217
	exitCapabilities    = 218
	exitNetwork         = 225
	exitNamespace       = 226
	exitNoNewPrivileges = 227
	exitSeccomp         = 228
	exitLimits          = 205
)

// StepError is a failed step of Apply: the child exits with Code.
type StepError struct {
	Code int
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

func fail(code int, format string, args ...any) error {
	return &StepError{Code: code, Err: fmt.Errorf(format, args...)}
}

// The child applies a plan in these steps, in exec_child()'s order, all
// on the OS thread that calls execve:
//
//	Namespaces (network, IPC), SetupMounts, [groups], BeforeUser, [setresuid
//	via SetUser], AfterUser, Seal (securebits, no_new_privs, seccomp).

// Namespaces joins NetworkNamespacePath=/IPCNamespacePath= and brings
// the loopback device of a new network namespace up.
func (p *Plan) Namespaces() error {
	for _, ns := range []struct {
		path string
		flag int
	}{{p.NetNSPath, unix.CLONE_NEWNET}, {p.IPCNSPath, unix.CLONE_NEWIPC}} {
		if ns.path == "" {
			continue
		}
		fd, err := unix.Open(ns.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(exitNamespace, "open namespace %s: %w", ns.path, err)
		}
		err = unix.Setns(fd, ns.flag)
		unix.Close(fd)
		if err != nil {
			return fail(exitNamespace, "setns %s: %w", ns.path, err)
		}
	}
	if p.Loopback {
		if err := loopbackUp(); err != nil {
			return fail(exitNetwork, "PrivateNetwork: bring up lo: %w", err)
		}
	}
	return nil
}

// loopbackUp sets lo up; the kernel then gives it 127.0.0.1/8 and ::1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// BeforeUser drops the capabilities not in the bounding set and prepares
// the ambient ones (capability_bounding_set_drop and
// capability_ambient_set_apply in systemd), applies RestrictRealtime='s
// RLIMIT_RTPRIO and, when the user switch must keep capabilities, sets
// SECURE_KEEP_CAPS. uid is the user switched to next, -1 for none.
func (p *Plan) BeforeUser(uid int) error {
	if p.RTPrioZero {
		if err := unix.Setrlimit(unix.RLIMIT_RTPRIO, &unix.Rlimit{}); err != nil {
			return fail(exitLimits, "RestrictRealtime: setrlimit RLIMIT_RTPRIO 0: %w", err)
		}
	}
	if p.BoundingSet {
		for c := 0; c < 64; c++ {
			if p.Bounding&(1<<c) != 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
				return fail(exitCapabilities, "CapabilityBoundingSet: drop capability %d: %w", c, err)
			}
		}
	}
	caps, err := getCaps()
	if err != nil {
		return fail(exitCapabilities, "capget: %w", err)
	}
	if p.BoundingSet {
		caps.inheritable &= p.Bounding
	}
	caps.inheritable |= p.Ambient & caps.permitted
	if err := caps.set(); err != nil {
		return fail(exitCapabilities, "capset: %w", err)
	}
	if err := p.raiseAmbient(); err != nil {
		return err
	}
	if uid > 0 && (p.Ambient != 0 || p.SecureBits != 0) {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fail(exitUser, "prctl PR_SET_KEEPCAPS: %w", err)
		}
	}
	return nil
}

// AfterUser raises the ambient capabilities again after setresuid, which
// cleared them, and makes them effective for the steps that follow.
func (p *Plan) AfterUser() error {
	if p.Ambient == 0 {
		return nil
	}
	caps, err := getCaps()
	if err != nil {
		return fail(exitCapabilities, "capget: %w", err)
	}
	caps.effective |= p.Ambient & caps.permitted
	caps.inheritable |= p.Ambient & caps.permitted
	if err := caps.set(); err != nil {
		return fail(exitCapabilities, "capset: %w", err)
	}
	return p.raiseAmbient()
}

func (p *Plan) raiseAmbient() error {
	for c := 0; c < 64; c++ {
		if p.Ambient&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fail(exitCapabilities, "AmbientCapabilities: raise capability %d: %w", c, err)
		}
	}
	return nil
}

// Seal sets SecureBits=, no_new_privs (asked for, or implied because a
// seccomp filter is loaded without CAP_SYS_ADMIN) and loads the seccomp
// filters: the last steps before execve.
func (p *Plan) Seal() error {
	if p.SecureBits != 0 {
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(p.SecureBits), 0, 0, 0); err != nil {
			return fail(exitSecureBits, "SecureBits: prctl PR_SET_SECUREBITS: %w", err)
		}
	}
	nnp := p.NoNewPrivs
	if len(p.Filters) > 0 && !nnp {
		caps, err := getCaps()
		nnp = err != nil || caps.effective&(1<<unix.CAP_SYS_ADMIN) == 0
	}
	if nnp {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail(exitNoNewPrivileges, "prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
	}
	for _, f := range p.Filters {
		if err := loadFilter(f.Insns); err != nil {
			code := exitSeccomp
			if f.Name == "RestrictAddressFamilies" {
				code = 232 // ADDRESS_FAMILIES
			}
			return fail(code, "%s: load seccomp filter: %w", f.Name, err)
		}
	}
	return nil
}

func loadFilter(insns []unix.SockFilter) error {
	if len(insns) == 0 {
		return errors.New("empty program")
	}
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// capSets are the calling thread's capability sets.
type capSets struct{ effective, permitted, inheritable uint64 }

func getCaps() (capSets, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return capSets{}, err
	}
	join := func(lo, hi uint32) uint64 { return uint64(lo) | uint64(hi)<<32 }
	return capSets{join(data[0].Effective, data[1].Effective), join(data[0].Permitted, data[1].Permitted),
		join(data[0].Inheritable, data[1].Inheritable)}, nil
}

func (c capSets) set() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(c.effective), Permitted: uint32(c.permitted), Inheritable: uint32(c.inheritable)},
		{Effective: uint32(c.effective >> 32), Permitted: uint32(c.permitted >> 32), Inheritable: uint32(c.inheritable >> 32)},
	}
	return unix.Capset(&hdr, &data[0])
}

// SetIDs switches the calling thread (the one that execs) to the groups,
// gid and uid, with raw system calls: Go's setuid would switch every
// thread, and the capabilities kept across the switch are per thread.
func SetIDs(groups []int, setGroups bool, gid, uid int) error {
	if setGroups {
		gs := make([]uint32, len(groups))
		for i, g := range groups {
			gs[i] = uint32(g)
		}
		var ptr uintptr
		if len(gs) > 0 {
			ptr = uintptr(unsafe.Pointer(&gs[0]))
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gs)), ptr, 0); e != 0 {
			return &StepError{Code: 216, Err: fmt.Errorf("setgroups %v: %w", groups, e)}
		}
	}
	if gid >= 0 {
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
			return &StepError{Code: 216, Err: fmt.Errorf("setresgid %d: %w", gid, e)}
		}
	}
	if uid >= 0 {
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			return &StepError{Code: exitUser, Err: fmt.Errorf("setresuid %d: %w", uid, e)}
		}
	}
	return nil
}

// Exec replaces the process with path, with a raw execve(2): after the
// seccomp filters are loaded nothing else may run (Go's syscall.Exec may
// call setrlimit first, which a filter can forbid).
func Exec(path string, argv, env []string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	a, err := cStrings(argv)
	if err != nil {
		return err
	}
	e, err := cStrings(env)
	if err != nil {
		return err
	}
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&e[0])))
	return &os.PathError{Op: "execve", Path: path, Err: errno}
}

// cStrings is a NULL-terminated array of C strings.
func cStrings(ss []string) ([]*byte, error) {
	out := make([]*byte, len(ss)+1)
	for i, s := range ss {
		b, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
