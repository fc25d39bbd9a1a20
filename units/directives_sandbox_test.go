package units

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// emptyGives holds what an empty assignment gives, for the directives
// where that is not the default.
var emptyGives = map[string]any{
	Key("Service", "CapabilityBoundingSet"): ptr(uint64(0)), // the empty set (systemd.exec(5))
}

func sb(u *Unit) *Sandbox { return &u.Service.Sandbox }

func init() {
	directiveCases = append(directiveCases, sandboxCases...)
}

// sandboxCases has one row per sandbox directive.
var sandboxCases = []directiveCase{
	{"Service", "ProtectSystem", "strict", func(u *Unit) any { return sb(u).ProtectSystem }, "strict",
		"ro", "invalid value \"ro\", want one of full, strict"},
	{"Service", "ProtectHome", "read-only", func(u *Unit) any { return sb(u).ProtectHome }, "read-only",
		"hidden", "invalid value \"hidden\", want one of read-only, tmpfs"},
	{"Service", "PrivateTmp", "yes", func(u *Unit) any { return sb(u).PrivateTmp }, true, "ja", `invalid boolean "ja"`},
	{"Service", "PrivateDevices", "yes", func(u *Unit) any { return sb(u).PrivateDevices }, true, "x", `invalid boolean "x"`},
	{"Service", "PrivateMounts", "yes", func(u *Unit) any { return sb(u).PrivateMounts }, true, "x", `invalid boolean "x"`},
	{"Service", "ProtectKernelTunables", "yes", func(u *Unit) any { return sb(u).ProtectKernelTunables }, true, "x", `invalid boolean "x"`},
	{"Service", "ProtectKernelModules", "yes", func(u *Unit) any { return sb(u).ProtectKernelModules }, true, "x", `invalid boolean "x"`},
	{"Service", "ProtectKernelLogs", "yes", func(u *Unit) any { return sb(u).ProtectKernelLogs }, true, "x", `invalid boolean "x"`},
	{"Service", "ProtectControlGroups", "yes", func(u *Unit) any { return sb(u).ProtectControlGroups }, true, "x", `invalid boolean "x"`},
	{"Service", "ProtectClock", "yes", func(u *Unit) any { return sb(u).ProtectClock }, true, "x", `invalid boolean "x"`},
	{"Service", "ProtectHostname", "yes", func(u *Unit) any { return sb(u).ProtectHostname }, true, "x", `invalid boolean "x"`},
	{"Service", "ProtectProc", "invisible", func(u *Unit) any { return sb(u).ProtectProc }, "invisible",
		"hidden", `invalid value "hidden", want default, noaccess, invisible or ptraceable`},
	{"Service", "ProcSubset", "pid", func(u *Unit) any { return sb(u).ProcSubset }, "pid", "none", `invalid value "none", want all or pid`},
	{"Service", "MountFlags", "slave", func(u *Unit) any { return sb(u).MountFlags }, "slave",
		"yes", `invalid value "yes", want one of shared, slave, private`},
	{"Service", "ReadWritePaths", "/var/lib/x -/run/y +/srv", func(u *Unit) any { return sb(u).ReadWritePaths },
		[]PathEntry{{"/var/lib/x", false}, {"/run/y", true}, {"/srv", false}}, "var/lib", `path "var/lib" is not absolute`},
	{"Service", "ReadOnlyPaths", "/etc/", func(u *Unit) any { return sb(u).ReadOnlyPaths },
		[]PathEntry{{"/etc", false}}, "/etc/../usr", `path "/etc/../usr" is not normalized`},
	{"Service", "InaccessiblePaths", "-/home", func(u *Unit) any { return sb(u).InaccessiblePaths },
		[]PathEntry{{"/home", true}}, "-home", `path "home" is not absolute`},
	{"Service", "TemporaryFileSystem", "/var:ro,size=1M", func(u *Unit) any { return sb(u).TemporaryFileSystem },
		[]TmpFS{{"/var", "ro,size=1M"}}, "/var:bogus", `unknown tmpfs option "bogus"`},
	{"Service", "BindPaths", "-/a:/b:norbind /c", func(u *Unit) any { return sb(u).BindPaths },
		[]BindPath{{Source: "/a", Dest: "/b", Optional: true, NonRecursive: true}, {Source: "/c", Dest: "/c"}},
		"/a:/b:x", `"/a:/b:x": unknown option "x", want rbind or norbind`},
	{"Service", "BindReadOnlyPaths", "/a:/b", func(u *Unit) any { return sb(u).BindPaths },
		[]BindPath{{Source: "/a", Dest: "/b", ReadOnly: true}}, "/a:b", `path "b" is not absolute`},
	{"Service", "SystemCallFilter", "~@mount reboot:EACCES", func(u *Unit) any { return len(sb(u).SystemCallFilter.Names) },
		13, "@bogus", `unknown system call group "@bogus"; did you mean @debug?`},
	{"Service", "SystemCallLog", "~@mount", func(u *Unit) any { return len(sb(u).SystemCallLog.Names) },
		12, "reboot:EPERM", `"reboot:EPERM": SystemCallLog= takes no errno`},
	{"Service", "SystemCallErrorNumber", "EACCES", func(u *Unit) any { return sb(u).SystemCallErrorNumber },
		int(unix.EACCES), "EBOGUS", `invalid errno "EBOGUS", want a name such as EPERM or a number 1…4095`},
	{"Service", "SystemCallArchitectures", "native", func(u *Unit) any { return sb(u).SystemCallArchNative }, true,
		"x86", `architecture "x86" is not supported by sockd: its filters are for x86-64 only`},
	{"Service", "MemoryDenyWriteExecute", "yes", func(u *Unit) any { return sb(u).MemoryDenyWriteExecute }, true, "x", `invalid boolean "x"`},
	{"Service", "RestrictRealtime", "yes", func(u *Unit) any { return sb(u).RestrictRealtime }, true, "x", `invalid boolean "x"`},
	{"Service", "LockPersonality", "yes", func(u *Unit) any { return sb(u).LockPersonality }, true, "x", `invalid boolean "x"`},
	{"Service", "RestrictSUIDSGID", "yes", func(u *Unit) any { return sb(u).RestrictSUIDSGID }, true, "x", `invalid boolean "x"`},
	{"Service", "RestrictAddressFamilies", "AF_UNIX AF_INET", func(u *Unit) any { return sb(u).RestrictAddressFamilies },
		FamilySet{Set: true, Allow: true, Families: map[int]bool{unix.AF_UNIX: true, unix.AF_INET: true}},
		"AF_BOGUS", `unknown address family "AF_BOGUS"`},
	{"Service", "RestrictNamespaces", "~net user", func(u *Unit) any { return sb(u).RestrictNamespaces },
		ptr(AllNamespaces &^ (unix.CLONE_NEWNET | unix.CLONE_NEWUSER)),
		"netz", `unknown namespace type "netz", want cgroup, ipc, net, mnt, pid, user, uts or time`},
	{"Service", "DynamicUser", "yes", func(u *Unit) any { return sb(u).DynamicUser }, true, "x", `invalid boolean "x"`},
	{"Service", "PrivateUsers", "yes", func(u *Unit) any { return sb(u).PrivateUsers }, true, "x", `invalid boolean "x"`},
	{"Service", "CapabilityBoundingSet", "CAP_NET_BIND_SERVICE cap_chown", func(u *Unit) any { return sb(u).CapabilityBoundingSet },
		ptr(uint64(1<<unix.CAP_NET_BIND_SERVICE | 1<<unix.CAP_CHOWN)),
		"CAP_NET_BIND_SERVIC", `unknown capability "CAP_NET_BIND_SERVIC"; did you mean CAP_NET_BIND_SERVICE?`},
	{"Service", "AmbientCapabilities", "CAP_IPC_LOCK", func(u *Unit) any { return sb(u).AmbientCapabilities },
		uint64(1 << unix.CAP_IPC_LOCK), "NOTACAPABILITYATALL", `unknown capability "NOTACAPABILITYATALL"`},
	{"Service", "SecureBits", "keep-caps noroot", func(u *Unit) any { return sb(u).SecureBits }, 1<<4 | 1,
		"keep", `unknown secure bit "keep"`},
	{"Service", "PermissionsStartOnly", "yes", func(u *Unit) any { return sb(u).PermissionsStartOnly }, true, "x", `invalid boolean "x"`},
	{"Service", "PrivateNetwork", "yes", func(u *Unit) any { return sb(u).PrivateNetwork }, true, "x", `invalid boolean "x"`},
	{"Service", "PrivateIPC", "yes", func(u *Unit) any { return sb(u).PrivateIPC }, true, "x", `invalid boolean "x"`},
	{"Service", "NetworkNamespacePath", "/run/netns/a", func(u *Unit) any { return sb(u).NetworkNamespacePath }, "/run/netns/a",
		"netns/a", `path "netns/a" is not absolute`},
	{"Service", "IPCNamespacePath", "/run/ipcns/a", func(u *Unit) any { return sb(u).IPCNamespacePath }, "/run/ipcns/a",
		"ipc", `path "ipc" is not absolute`},
}

// TestSyscallFilterMerge checks systemd's rules for several assignments.
func TestSyscallFilterMerge(t *testing.T) {
	def, _ := SyscallGroup("@default")
	cases := []struct {
		values []string
		allow  bool
		has    []string // with their errno (-1: default action)
		hasNot []string
		n      int // len(Names), or -1 not to check
	}{
		{[]string{"@basic-io"}, true, []string{"read", "execve"}, []string{"mount"}, -1},
		{[]string{"~@mount"}, false, []string{"mount", "pivot_root"}, []string{"read"}, 12},
		{[]string{"read write", "~write"}, true, []string{"read"}, []string{"write"}, len(def) + 1},
		{[]string{"~@mount", "mount"}, false, []string{"umount2"}, []string{"mount"}, 11},
		{[]string{"~reboot:EACCES kexec_load"}, false, []string{"reboot", "kexec_load"}, nil, 2},
		{[]string{"@system-service", "~@privileged"}, true, []string{"read", "socket"}, []string{"setuid", "chown"}, -1},
	}
	for _, c := range cases {
		var s SyscallSet
		for _, v := range c.values {
			if err := parseSyscallList(&s, v, true); err != nil {
				t.Fatalf("%q: %v", c.values, err)
			}
		}
		if s.Allow != c.allow {
			t.Errorf("%q: Allow = %v; want %v", c.values, s.Allow, c.allow)
		}
		for _, n := range c.has {
			if _, ok := s.Names[n]; !ok {
				t.Errorf("%q: %s missing", c.values, n)
			}
		}
		for _, n := range c.hasNot {
			if _, ok := s.Names[n]; ok {
				t.Errorf("%q: %s present", c.values, n)
			}
		}
		if c.n >= 0 && len(s.Names) != c.n {
			t.Errorf("%q: %d names; want %d", c.values, len(s.Names), c.n)
		}
	}
	var s SyscallSet
	parseSyscallList(&s, "~reboot:EACCES kexec_load", true)
	if s.Names["reboot"] != int(unix.EACCES) || s.Names["kexec_load"] != -1 {
		t.Errorf("errnos: %v", s.Names)
	}
	if err := parseSyscallList(&SyscallSet{}, "read:EPERM", true); err == nil || !strings.Contains(err.Error(), "deny list") {
		t.Errorf("errno in an allow list: got %v", err)
	}
	if err := parseSyscallList(&SyscallSet{}, "frobnicate", true); err == nil || err.Error() != `unknown system call "frobnicate"` {
		t.Errorf("unknown name: got %v", err)
	}
}

// TestSyscallGroups checks the group table against facts of systemd 252.
func TestSyscallGroups(t *testing.T) {
	svc, _ := SyscallGroup("@system-service")
	set := map[string]bool{}
	for _, n := range svc {
		set[n] = true
	}
	for _, n := range []string{"read", "execve", "socket", "setuid", "ioctl", "capset", "clone3"} {
		if !set[n] {
			t.Errorf("@system-service lacks %s", n)
		}
	}
	for _, n := range []string{"mount", "reboot", "init_module", "settimeofday", "ptrace", "swapon", "iopl"} {
		if set[n] {
			t.Errorf("@system-service has %s", n)
		}
	}
	for _, g := range SyscallGroups() {
		names, _ := SyscallGroup(g)
		if len(names) == 0 {
			t.Errorf("group %s is empty", g)
		}
	}
}

// TestCapabilitySets checks the merge rules of config_parse_capability_set.
func TestCapabilitySets(t *testing.T) {
	cases := []struct {
		values []string
		want   uint64
	}{
		{[]string{"CAP_CHOWN"}, 1 << unix.CAP_CHOWN},
		{[]string{"CAP_CHOWN", "CAP_KILL"}, 1<<unix.CAP_CHOWN | 1<<unix.CAP_KILL},
		{[]string{"~CAP_SYS_ADMIN"}, AllCapabilities &^ (1 << unix.CAP_SYS_ADMIN)},
		{[]string{"~CAP_SYS_ADMIN", "~CAP_KILL"}, AllCapabilities &^ (1<<unix.CAP_SYS_ADMIN | 1<<unix.CAP_KILL)},
		{[]string{"CAP_KILL CAP_CHOWN", "~CAP_KILL"}, 1 << unix.CAP_CHOWN},
		{[]string{"21"}, 1 << unix.CAP_SYS_ADMIN},
	}
	for _, c := range cases {
		var m uint64
		var set bool
		for _, v := range c.values {
			if err := parseCapabilities(&m, &set, v); err != nil {
				t.Fatal(err)
			}
		}
		if m != c.want {
			t.Errorf("%q: %#x; want %#x", c.values, m, c.want)
		}
	}
}

func FuzzSandboxParsers(f *testing.F) {
	for _, s := range []string{"~@mount reboot:EACCES", "@system-service", "CAP_CHOWN ~", "~AF_INET", "none",
		"-/a:/b:norbind", "/var:ro,size=1M", "~net user", "yes", "read:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var s SyscallSet
		if parseSyscallList(&s, v, true) == nil && s.Set && s.Names == nil {
			t.Fatal("set without names")
		}
		var m uint64
		var set bool
		if parseCapabilities(&m, &set, v) == nil && m&^AllCapabilities != 0 {
			t.Fatalf("mask %#x has unknown bits", m)
		}
		var fam FamilySet
		_ = parseFamilies(&fam, v)
		var ns *uint64
		if parseNamespaces(&ns, v) == nil && *ns&^AllNamespaces != 0 {
			t.Fatalf("namespaces %#x", *ns)
		}
		if b, err := parseBindPath(v, false); err == nil && (!strings.HasPrefix(b.Source, "/") || !strings.HasPrefix(b.Dest, "/")) {
			t.Fatalf("bind %+v", b)
		}
		if e, err := parsePathEntry(v); err == nil && !reflect.DeepEqual(e.Path, strings.TrimRight(e.Path, "/")) && e.Path != "/" {
			t.Fatalf("path %q", e.Path)
		}
		_, _ = parseTmpFS(v)
	})
}

func TestSandboxConflictingPaths(t *testing.T) {
	u, err := build(at("Service", "ReadWritePaths", "/var/lib/x", 7), at("Service", "InaccessiblePaths", "/var/lib/x", 8))
	if err != nil {
		t.Fatal(err)
	}
	want := testServiceFile + ":8: [Service] InaccessiblePaths: /var/lib/x is also in ReadWritePaths="
	if errs := sandboxErrors(u); len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("got %v; want %s", errs, want)
	}
}
