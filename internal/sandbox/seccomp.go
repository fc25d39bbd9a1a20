package sandbox

import (
	"sort"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// filters builds the seccomp programs of s in systemd's order
// (exec_child: address families, MemoryDenyWriteExecute, RestrictRealtime,
// RestrictSUIDSGID, RestrictNamespaces, ProtectKernelTunables, …,
// SystemCallFilter last), one program per feature as systemd stacks them.
// System calls of the i386 and x32 ABIs are refused with ENOSYS (killed
// under SystemCallArchitectures=native): sockd compiles for x86-64 only.
func filters(s *units.Sandbox) []*filter {
	var out []*filter
	add := func(name string, def Action, rules ...rule) {
		out = append(out, &filter{Name: name, Rules: rules, Default: def, BadArch: ActErrno(unix.ENOSYS)})
	}
	eperm := ActErrno(unix.EPERM)
	if s.ProtectHostname {
		add("ProtectHostname", ActAllow, names(eperm, "sethostname", "setdomainname")...)
	}
	if f := s.RestrictAddressFamilies; f.Set {
		add("RestrictAddressFamilies", ActAllow, familyRules(f)...)
	}
	if s.MemoryDenyWriteExecute {
		add("MemoryDenyWriteExecute", ActAllow,
			rule{unix.SYS_MMAP, []cond{{Arg: 2, Op: allSet, Mask: unix.PROT_WRITE | unix.PROT_EXEC}}, eperm},
			rule{unix.SYS_MPROTECT, []cond{{Arg: 2, Op: anySet, Mask: unix.PROT_EXEC}}, eperm},
			rule{unix.SYS_PKEY_MPROTECT, []cond{{Arg: 2, Op: anySet, Mask: unix.PROT_EXEC}}, eperm},
			rule{unix.SYS_SHMAT, []cond{{Arg: 2, Op: anySet, Mask: shmExec}}, eperm})
	}
	if s.RestrictRealtime {
		add("RestrictRealtime", ActAllow, rule{unix.SYS_SCHED_SETSCHEDULER,
			[]cond{{Arg: 1, Op: notIn, Values: []uint32{0 /* SCHED_OTHER */, 3 /* SCHED_BATCH */, 5 /* SCHED_IDLE */}}}, eperm})
	}
	if s.RestrictSUIDSGID {
		add("RestrictSUIDSGID", ActAllow, suidRules()...)
	}
	if s.RestrictNamespaces != nil {
		add("RestrictNamespaces", ActAllow, namespaceRules(*s.RestrictNamespaces)...)
	}
	if s.ProtectKernelTunables {
		add("ProtectKernelTunables", ActAllow, names(eperm, "_sysctl")...)
	}
	if s.ProtectKernelModules {
		add("ProtectKernelModules", ActAllow, group(eperm, "@module")...)
	}
	if s.ProtectKernelLogs {
		add("ProtectKernelLogs", ActAllow, names(eperm, "syslog")...)
	}
	if s.ProtectClock {
		add("ProtectClock", ActAllow, group(eperm, "@clock")...)
	}
	if s.PrivateDevices {
		add("PrivateDevices", ActAllow, group(eperm, "@raw-io")...)
	}
	if s.SystemCallArchNative {
		out = append(out, &filter{Name: "SystemCallArchitectures", Default: ActAllow, BadArch: ActKill})
	}
	if s.LockPersonality {
		add("LockPersonality", ActAllow, rule{unix.SYS_PERSONALITY,
			[]cond{{Arg: 0, Op: notIn, Values: []uint32{0 /* PER_LINUX */, 0xffffffff /* query */}}}, eperm})
	}
	if l := s.SystemCallLog; l.Set {
		out = append(out, setFilter("SystemCallLog", l, ActLog, 0))
	}
	if f := s.SystemCallFilter; f.Set {
		out = append(out, setFilter("SystemCallFilter", f, ActKill, s.SystemCallErrorNumber))
	}
	return out
}

// setFilter compiles a SystemCallFilter= or SystemCallLog= set: an allow
// list acts on every call not listed, a deny list on the listed ones.
// act is the action (kill is replaced by errno when it is set); names
// with their own errno in a deny list get it.
func setFilter(name string, set units.SyscallSet, act Action, errno int) *filter {
	if act == ActKill && errno > 0 {
		act = ActErrno(unix.Errno(errno))
	}
	f := &filter{Name: name, BadArch: ActErrno(unix.ENOSYS), Default: ActAllow}
	listed := ActAllow
	if set.Allow {
		f.Default = act
	} else {
		listed = act
	}
	for _, n := range sortedNames(set.Names) {
		nr, ok := units.SyscallNumber(n)
		if !ok {
			continue // a call of another architecture, as systemd skips it
		}
		a := listed
		if e := set.Names[n]; e > 0 && !set.Allow {
			a = ActErrno(unix.Errno(e))
		}
		f.Rules = append(f.Rules, rule{Nr: nr, Action: a})
	}
	return f
}

func sortedNames(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// names makes one rule per x86-64 system call of the list.
func names(a Action, list ...string) []rule {
	var out []rule
	for _, n := range list {
		if nr, ok := units.SyscallNumber(n); ok {
			out = append(out, rule{Nr: nr, Action: a})
		}
	}
	return out
}

func group(a Action, g string) []rule {
	list, _ := units.SyscallGroup(g)
	return names(a, list...)
}

// shmExec is SHM_EXEC of shmat(2).
const shmExec = 0o100000

// familyRules refuse socket(2) for the families not allowed, with
// EAFNOSUPPORT as systemd does.
func familyRules(f units.FamilySet) []rule {
	var fams []uint32
	for af := range f.Families {
		fams = append(fams, uint32(af))
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i] < fams[j] })
	deny := ActErrno(unix.EAFNOSUPPORT)
	if f.Allow {
		return []rule{{unix.SYS_SOCKET, []cond{{Arg: 0, Op: notIn, Values: fams}}, deny}}
	}
	var out []rule
	for _, af := range fams {
		out = append(out, rule{unix.SYS_SOCKET, []cond{{Arg: 0, Op: equal, Values: []uint32{af}}}, deny})
	}
	return out
}

// suidRules refuse creating or chmod-ing set-user-ID and set-group-ID
// files (systemd's seccomp_restrict_suid_sgid).
func suidRules() []rule {
	const bits = unix.S_ISUID | unix.S_ISGID
	eperm := ActErrno(unix.EPERM)
	mode := func(nr, arg int) rule { return rule{nr, []cond{{Arg: arg, Op: anySet, Mask: bits}}, eperm} }
	creat := func(nr, flags, m int) rule {
		return rule{nr, []cond{{Arg: flags, Op: anySet, Mask: unix.O_CREAT}, {Arg: m, Op: anySet, Mask: bits}}, eperm}
	}
	return []rule{
		mode(unix.SYS_CHMOD, 1), mode(unix.SYS_FCHMOD, 1), mode(unix.SYS_FCHMODAT, 2), mode(unix.SYS_FCHMODAT2, 2),
		mode(unix.SYS_MKDIR, 1), mode(unix.SYS_MKDIRAT, 2), mode(unix.SYS_MKNOD, 1), mode(unix.SYS_MKNODAT, 2),
		creat(unix.SYS_OPEN, 1, 2), creat(unix.SYS_OPENAT, 2, 3), mode(unix.SYS_CREAT, 1),
		{Nr: unix.SYS_OPENAT2, Action: ActErrno(unix.ENOSYS)},
	}
}

// namespaceRules refuse creating or joining the namespace types not in
// allowed (systemd's seccomp_restrict_namespaces).
func namespaceRules(allowed uint64) []rule {
	denied := uint32(units.AllNamespaces &^ allowed)
	if denied == 0 {
		return nil
	}
	eperm := ActErrno(unix.EPERM)
	return []rule{
		{Nr: unix.SYS_CLONE3, Action: ActErrno(unix.ENOSYS)}, // its flags are out of reach: make libc fall back to clone
		{unix.SYS_UNSHARE, []cond{{Arg: 0, Op: anySet, Mask: denied}}, eperm},
		{unix.SYS_CLONE, []cond{{Arg: 0, Op: anySet, Mask: denied}}, eperm},
		{unix.SYS_SETNS, []cond{{Arg: 1, Op: equal, Values: []uint32{0}}}, eperm}, // any type
		{unix.SYS_SETNS, []cond{{Arg: 1, Op: anySet, Mask: denied}}, eperm},
	}
}
