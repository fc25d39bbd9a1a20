package units

import (
	"fmt"
	"strings"
)

// sbx makes a [Service] directive of the Sandbox; reset restores the
// default on an empty assignment (nil: the zero value of what set sets).
func sbx(name string, kind ValueKind, set func(s *Sandbox, v string) error, reset func(s *Sandbox)) directive {
	return directive{DirectiveInfo{"Service", name, kind},
		func(u *Unit, v string) error { return set(&u.Service.Sandbox, v) },
		func(u, _ *Unit) { reset(&u.Service.Sandbox) }}
}

func sbxBool(name string, f func(s *Sandbox) *bool) directive {
	return sbx(name, KindBool, func(s *Sandbox, v string) error {
		b, err := ParseBool(v)
		*f(s) = b
		return err
	}, func(s *Sandbox) { *f(s) = false })
}

// sbxEnum takes a boolean ("yes" is yesValue, "no" is "") or one of values.
func sbxEnum(name, yesValue string, f func(s *Sandbox) *string, values ...string) directive {
	return sbx(name, KindString, func(s *Sandbox, v string) error {
		if b, err := ParseBool(v); err == nil && yesValue != "" {
			*f(s) = ""
			if b {
				*f(s) = yesValue
			}
			return nil
		}
		if !inList(values, v) {
			return fmt.Errorf("invalid value %q, want one of %s", v, strings.Join(values, ", "))
		}
		*f(s) = v
		return nil
	}, func(s *Sandbox) { *f(s) = "" })
}

// sbxWords applies each word of a list directive.
func sbxWords(name string, add func(s *Sandbox, w string) error, reset func(s *Sandbox)) directive {
	return sbx(name, KindList, func(s *Sandbox, v string) error {
		words, err := SplitWords(v, false)
		if err != nil {
			return err
		}
		for _, w := range words {
			if err := add(s, w); err != nil {
				return err
			}
		}
		return nil
	}, reset)
}

func sbxPaths(name string, f func(s *Sandbox) *[]PathEntry) directive {
	return sbxWords(name, func(s *Sandbox, w string) error {
		e, err := parsePathEntry(w)
		if err == nil {
			*f(s) = append(*f(s), e)
		}
		return err
	}, func(s *Sandbox) { *f(s) = nil })
}

func sbxBinds(name string, ro bool) directive {
	return sbxWords(name, func(s *Sandbox, w string) error {
		b, err := parseBindPath(w, ro)
		if err == nil {
			s.BindPaths = append(s.BindPaths, b)
		}
		return err
	}, func(s *Sandbox) {
		kept := s.BindPaths[:0]
		for _, b := range s.BindPaths {
			if b.ReadOnly != ro {
				kept = append(kept, b)
			}
		}
		s.BindPaths = kept
		if len(kept) == 0 {
			s.BindPaths = nil
		}
	})
}

func sandboxDirectives() []directive {
	return []directive{
		sbxEnum("ProtectSystem", "yes", func(s *Sandbox) *string { return &s.ProtectSystem }, "full", "strict"),
		sbxEnum("ProtectHome", "yes", func(s *Sandbox) *string { return &s.ProtectHome }, "read-only", "tmpfs"),
		sbxBool("PrivateTmp", func(s *Sandbox) *bool { return &s.PrivateTmp }),
		sbxBool("PrivateDevices", func(s *Sandbox) *bool { return &s.PrivateDevices }),
		sbxBool("PrivateMounts", func(s *Sandbox) *bool { return &s.PrivateMounts }),
		sbxBool("ProtectKernelTunables", func(s *Sandbox) *bool { return &s.ProtectKernelTunables }),
		sbxBool("ProtectKernelModules", func(s *Sandbox) *bool { return &s.ProtectKernelModules }),
		sbxBool("ProtectKernelLogs", func(s *Sandbox) *bool { return &s.ProtectKernelLogs }),
		sbxBool("ProtectControlGroups", func(s *Sandbox) *bool { return &s.ProtectControlGroups }),
		sbxBool("ProtectClock", func(s *Sandbox) *bool { return &s.ProtectClock }),
		sbxBool("ProtectHostname", func(s *Sandbox) *bool { return &s.ProtectHostname }),
		sbx("ProtectProc", KindString, func(s *Sandbox, v string) error {
			if !inList([]string{"default", "noaccess", "invisible", "ptraceable"}, v) {
				return fmt.Errorf("invalid value %q, want default, noaccess, invisible or ptraceable", v)
			}
			s.ProtectProc = strings.TrimPrefix(v, "default")
			return nil
		}, func(s *Sandbox) { s.ProtectProc = "" }),
		sbx("ProcSubset", KindString, func(s *Sandbox, v string) error {
			if v != "all" && v != "pid" {
				return fmt.Errorf("invalid value %q, want all or pid", v)
			}
			s.ProcSubset = strings.TrimPrefix(v, "all")
			return nil
		}, func(s *Sandbox) { s.ProcSubset = "" }),
		sbxEnum("MountFlags", "", func(s *Sandbox) *string { return &s.MountFlags }, "shared", "slave", "private"),
		sbxPaths("ReadWritePaths", func(s *Sandbox) *[]PathEntry { return &s.ReadWritePaths }),
		sbxPaths("ReadOnlyPaths", func(s *Sandbox) *[]PathEntry { return &s.ReadOnlyPaths }),
		sbxPaths("InaccessiblePaths", func(s *Sandbox) *[]PathEntry { return &s.InaccessiblePaths }),
		sbxWords("TemporaryFileSystem", func(s *Sandbox, w string) error {
			t, err := parseTmpFS(w)
			if err == nil {
				s.TemporaryFileSystem = append(s.TemporaryFileSystem, t)
			}
			return err
		}, func(s *Sandbox) { s.TemporaryFileSystem = nil }),
		sbxBinds("BindPaths", false),
		sbxBinds("BindReadOnlyPaths", true),
		sbx("SystemCallFilter", KindList, func(s *Sandbox, v string) error {
			return parseSyscallList(&s.SystemCallFilter, v, true)
		}, func(s *Sandbox) { s.SystemCallFilter = SyscallSet{} }),
		sbx("SystemCallLog", KindList, func(s *Sandbox, v string) error {
			return parseSyscallList(&s.SystemCallLog, v, false)
		}, func(s *Sandbox) { s.SystemCallLog = SyscallSet{} }),
		sbx("SystemCallErrorNumber", KindString, func(s *Sandbox, v string) (err error) {
			s.SystemCallErrorNumber, err = errnoOrKill(v)
			return err
		}, func(s *Sandbox) { s.SystemCallErrorNumber = 0 }),
		sbxWords("SystemCallArchitectures", func(s *Sandbox, w string) error {
			switch w {
			case "native", "x86-64":
				s.SystemCallArchNative = true
				return nil
			case "x86", "x32":
				return fmt.Errorf("architecture %q is not supported by sockd: its filters are for x86-64 only", w)
			}
			return fmt.Errorf("unknown architecture %q, want native or x86-64", w)
		}, func(s *Sandbox) { s.SystemCallArchNative = false }),
		sbxBool("MemoryDenyWriteExecute", func(s *Sandbox) *bool { return &s.MemoryDenyWriteExecute }),
		sbxBool("RestrictRealtime", func(s *Sandbox) *bool { return &s.RestrictRealtime }),
		sbxBool("LockPersonality", func(s *Sandbox) *bool { return &s.LockPersonality }),
		sbxBool("RestrictSUIDSGID", func(s *Sandbox) *bool { return &s.RestrictSUIDSGID }),
		sbx("RestrictAddressFamilies", KindList, func(s *Sandbox, v string) error {
			return parseFamilies(&s.RestrictAddressFamilies, v)
		}, func(s *Sandbox) { s.RestrictAddressFamilies = FamilySet{} }),
		sbx("RestrictNamespaces", KindList, func(s *Sandbox, v string) error {
			return parseNamespaces(&s.RestrictNamespaces, v)
		}, func(s *Sandbox) { s.RestrictNamespaces = nil }),
		sbxBool("DynamicUser", func(s *Sandbox) *bool { return &s.DynamicUser }),
		sbxBool("PrivateUsers", func(s *Sandbox) *bool { return &s.PrivateUsers }),
		sbx("CapabilityBoundingSet", KindList, func(s *Sandbox, v string) error {
			var m uint64
			set := s.CapabilityBoundingSet != nil
			if set {
				m = *s.CapabilityBoundingSet
			}
			err := parseCapabilities(&m, &set, v)
			s.CapabilityBoundingSet = &m
			return err
		}, func(s *Sandbox) { var none uint64; s.CapabilityBoundingSet = &none }),
		sbx("AmbientCapabilities", KindList, func(s *Sandbox, v string) error {
			set := s.AmbientCapabilities != 0
			return parseCapabilities(&s.AmbientCapabilities, &set, v)
		}, func(s *Sandbox) { s.AmbientCapabilities = 0 }),
		sbxWords("SecureBits", func(s *Sandbox, w string) error {
			b, ok := secureBits[w]
			if !ok {
				return fmt.Errorf("unknown secure bit %q", w)
			}
			s.SecureBits |= b
			return nil
		}, func(s *Sandbox) { s.SecureBits = 0 }),
		sbxBool("PermissionsStartOnly", func(s *Sandbox) *bool { return &s.PermissionsStartOnly }),
		sbxBool("PrivateNetwork", func(s *Sandbox) *bool { return &s.PrivateNetwork }),
		sbxBool("PrivateIPC", func(s *Sandbox) *bool { return &s.PrivateIPC }),
		sbx("NetworkNamespacePath", KindString, func(s *Sandbox, v string) error {
			s.NetworkNamespacePath = v
			return checkSandboxPath(v)
		}, func(s *Sandbox) { s.NetworkNamespacePath = "" }),
		sbx("IPCNamespacePath", KindString, func(s *Sandbox, v string) error {
			s.IPCNamespacePath = v
			return checkSandboxPath(v)
		}, func(s *Sandbox) { s.IPCNamespacePath = "" }),
	}
}
