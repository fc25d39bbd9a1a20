package units

import (
	"fmt"
	"strings"
)

// Sandbox holds the directives of systemd.exec(5) that confine a service
// between fork and execve: the file-system namespace, seccomp, credentials
// and capabilities, and network namespaces. internal/sandbox compiles it
// into what the spawned child applies. The zero value confines nothing.
type Sandbox struct {
	ProtectSystem         string // "", "yes", "full", "strict"
	ProtectHome           string // "", "yes", "read-only", "tmpfs"
	PrivateTmp            bool
	PrivateDevices        bool
	PrivateMounts         bool
	ProtectKernelTunables bool
	ProtectKernelModules  bool
	ProtectKernelLogs     bool
	ProtectControlGroups  bool
	ProtectClock          bool
	ProtectHostname       bool
	ProtectProc           string // "", "noaccess", "invisible", "ptraceable" ("" and "default": unchanged)
	ProcSubset            string // "" or "pid"
	MountFlags            string // "", "shared", "slave", "private"

	ReadWritePaths      []PathEntry
	ReadOnlyPaths       []PathEntry
	InaccessiblePaths   []PathEntry
	TemporaryFileSystem []TmpFS
	BindPaths           []BindPath // BindPaths= and BindReadOnlyPaths= (ReadOnly set)

	SystemCallFilter        SyscallSet
	SystemCallLog           SyscallSet
	SystemCallErrorNumber   int  // 0: kill the process
	SystemCallArchNative    bool // SystemCallArchitectures=native
	MemoryDenyWriteExecute  bool
	RestrictRealtime        bool
	LockPersonality         bool
	RestrictSUIDSGID        bool
	RestrictAddressFamilies FamilySet
	// RestrictNamespaces is the set of namespace types (clone flags) a
	// service may create; nil means RestrictNamespaces= was not used.
	RestrictNamespaces *uint64

	DynamicUser  bool
	PrivateUsers bool
	// CapabilityBoundingSet is the bounding set; nil keeps every capability.
	CapabilityBoundingSet *uint64
	AmbientCapabilities   uint64
	SecureBits            int
	PermissionsStartOnly  bool

	PrivateNetwork       bool
	PrivateIPC           bool
	NetworkNamespacePath string
	IPCNamespacePath     string
}

// PathEntry is one path of ReadWritePaths=, ReadOnlyPaths= or
// InaccessiblePaths=: "-" makes a missing path no error; "+" (relative to
// RootDirectory=, which sockd does not have) is accepted and dropped.
type PathEntry struct {
	Path     string
	Optional bool
}

// TmpFS is one TemporaryFileSystem= entry "PATH[:OPTIONS]".
type TmpFS struct {
	Path    string
	Options string
}

// BindPath is one BindPaths= or BindReadOnlyPaths= entry
// "[-]SOURCE[:DEST[:rbind|norbind]]".
type BindPath struct {
	Source, Dest string
	Optional     bool // "-": a missing source is skipped
	NonRecursive bool // "norbind"
	ReadOnly     bool // BindReadOnlyPaths=
}

// SyscallSet is a SystemCallFilter= or SystemCallLog= list: with Allow,
// only the listed calls are allowed (logged: not logged); without, the
// listed calls are denied (logged). Errno maps each name to the errno of
// its ":errno" suffix, or -1 for the default action.
type SyscallSet struct {
	Set   bool
	Allow bool
	Names map[string]int
}

// FamilySet is RestrictAddressFamilies=: with Allow, only Families may be
// used with socket(2); without, Families may not.
type FamilySet struct {
	Set      bool
	Allow    bool
	Families map[int]bool
}

// Enabled reports whether any directive of s is set, i.e. whether the
// service needs more than a plain fork and exec.
func (s *Sandbox) Enabled() bool {
	return s.ProtectSystem != "" || s.ProtectHome != "" || s.PrivateTmp || s.PrivateDevices ||
		s.PrivateMounts || s.ProtectKernelTunables || s.ProtectKernelModules || s.ProtectKernelLogs ||
		s.ProtectControlGroups || s.ProtectClock || s.ProtectHostname || s.ProtectProc != "" ||
		s.ProcSubset != "" || s.MountFlags != "" || len(s.ReadWritePaths) > 0 ||
		len(s.ReadOnlyPaths) > 0 || len(s.InaccessiblePaths) > 0 || len(s.TemporaryFileSystem) > 0 ||
		len(s.BindPaths) > 0 || s.SystemCallFilter.Set || s.SystemCallLog.Set ||
		s.SystemCallArchNative || s.MemoryDenyWriteExecute || s.RestrictRealtime ||
		s.LockPersonality || s.RestrictSUIDSGID || s.RestrictAddressFamilies.Set ||
		s.RestrictNamespaces != nil || s.DynamicUser || s.PrivateUsers ||
		s.CapabilityBoundingSet != nil || s.AmbientCapabilities != 0 || s.SecureBits != 0 ||
		s.PrivateNetwork || s.PrivateIPC || s.NetworkNamespacePath != "" ||
		s.IPCNamespacePath != ""
}

// parseSyscallList adds one SystemCallFilter= (or SystemCallLog=) value to
// set, as systemd's config_parse_syscall_filter: the first assignment
// decides between an allow list ("@default" added, for SystemCallFilter=)
// and a deny list ("~"); a later assignment of the other kind removes
// names. Groups are expanded; "name:errno" is for deny lists only.
func parseSyscallList(set *SyscallSet, v string, filter bool) error {
	deny := strings.HasPrefix(v, "~")
	v = strings.TrimPrefix(v, "~")
	words, err := SplitWords(v, false)
	if err != nil {
		return err
	}
	if !set.Set {
		*set = SyscallSet{Set: true, Allow: !deny, Names: map[string]int{}}
		if filter && !deny {
			def, _ := SyscallGroup("@default")
			for _, n := range def {
				set.Names[n] = -1
			}
		}
	}
	add := set.Allow != deny
	for _, w := range words {
		name, errnoStr, hasErrno := strings.Cut(w, ":")
		errno := -1
		if hasErrno {
			if !filter {
				return fmt.Errorf("%q: SystemCallLog= takes no errno", w)
			}
			if !deny {
				return fmt.Errorf("%q: an errno is only allowed in a deny list (\"~\")", w)
			}
			e, err := ParseErrno(errnoStr)
			if err != nil {
				return err
			}
			errno = int(e)
		}
		names, err := syscallNames(name)
		if err != nil {
			return err
		}
		for _, n := range names {
			if add {
				set.Names[n] = errno
			} else {
				delete(set.Names, n)
			}
		}
	}
	return nil
}

// syscallNames returns the names a word of a filter stands for.
func syscallNames(w string) ([]string, error) {
	if strings.HasPrefix(w, "@") {
		names, ok := SyscallGroup(w)
		if !ok {
			if s := Suggest(w, SyscallGroups()); s != "" {
				return nil, fmt.Errorf("unknown system call group %q; did you mean %s?", w, s)
			}
			return nil, fmt.Errorf("unknown system call group %q", w)
		}
		return names, nil
	}
	if !knownSyscall()[w] {
		return nil, fmt.Errorf("unknown system call %q", w)
	}
	return []string{w}, nil
}

// parseCapabilities merges one CapabilityBoundingSet= or
// AmbientCapabilities= value into *mask, as systemd's
// config_parse_capability_set: "~" inverts the list; the first
// assignment sets the mask, later ones add (or, inverted, remove).
func parseCapabilities(mask *uint64, set *bool, v string) error {
	invert := strings.HasPrefix(v, "~")
	words, err := SplitWords(strings.TrimPrefix(v, "~"), false)
	if err != nil {
		return err
	}
	var sum uint64
	for _, w := range words {
		c, err := ParseCapability(w)
		if err != nil {
			return err
		}
		sum |= 1 << c
	}
	switch {
	case invert && !*set:
		*mask = AllCapabilities &^ sum
	case invert:
		*mask &^= sum
	case !*set:
		*mask = sum
	default:
		*mask |= sum
	}
	*set = true
	return nil
}

// parseFamilies merges one RestrictAddressFamilies= value into set.
func parseFamilies(set *FamilySet, v string) error {
	if v == "none" {
		*set = FamilySet{Set: true, Allow: true, Families: map[int]bool{}}
		return nil
	}
	deny := strings.HasPrefix(v, "~")
	words, err := SplitWords(strings.TrimPrefix(v, "~"), false)
	if err != nil {
		return err
	}
	if !set.Set {
		*set = FamilySet{Set: true, Allow: !deny, Families: map[int]bool{}}
	}
	for _, w := range words {
		af, ok := addressFamilies[w]
		if !ok {
			return fmt.Errorf("unknown address family %q", w)
		}
		if set.Allow != deny {
			set.Families[af] = true
		} else {
			delete(set.Families, af)
		}
	}
	return nil
}

// parseNamespaces merges one RestrictNamespaces= value: a boolean, or a
// list of namespace types that may be created ("~": that may not).
func parseNamespaces(allowed **uint64, v string) error {
	if b, err := ParseBool(v); err == nil {
		m := AllNamespaces
		if b {
			m = 0
		}
		*allowed = &m
		return nil
	}
	invert := strings.HasPrefix(v, "~")
	var sum uint64
	for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
		found := false
		for _, t := range namespaceTypes {
			if t.name == w {
				sum, found = sum|t.flag, true
			}
		}
		if !found {
			return fmt.Errorf("unknown namespace type %q, want cgroup, ipc, net, mnt, pid, user, uts or time", w)
		}
	}
	m := uint64(0)
	if *allowed != nil {
		m = **allowed
	}
	switch {
	case invert && *allowed == nil:
		m = AllNamespaces &^ sum
	case invert:
		m &^= sum
	default:
		m |= sum
	}
	*allowed = &m
	return nil
}

// errnoOrKill parses SystemCallErrorNumber=.
func errnoOrKill(v string) (int, error) {
	if v == "kill" {
		return 0, nil
	}
	e, err := ParseErrno(v)
	return int(e), err
}
