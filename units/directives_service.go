package units

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func serviceDirectives() []directive {
	return []directive{
		svc("Type", KindString, func(s *Service) *ServiceType { return &s.Type }, func(g func(*Unit) *ServiceType) setter {
			return enumField(g, []ServiceType{TypeSimple, TypeExec, TypeNotify, TypeForking, TypeOneshot, TypeDbus}, map[string]string{
				"idle": "sockd has no job queue", "notify-reload": "use notify and ExecReload=",
			})
		}),
		commandDirective("ExecStart", func(s *Service) *[]Command { return &s.ExecStart }),
		commandDirective("ExecStartPre", func(s *Service) *[]Command { return &s.ExecStartPre }),
		commandDirective("ExecStartPost", func(s *Service) *[]Command { return &s.ExecStartPost }),
		commandDirective("ExecStop", func(s *Service) *[]Command { return &s.ExecStop }),
		commandDirective("ExecReload", func(s *Service) *[]Command { return &s.ExecReload }),
		svc("Environment", KindList, func(s *Service) *[]string { return &s.Environment }, wordsSet(checkAssignment)),
		svc("EnvironmentFile", KindList, func(s *Service) *[]EnvironmentFile { return &s.EnvironmentFiles }, func(g func(*Unit) *[]EnvironmentFile) setter {
			return func(u *Unit, v string) error {
				f := EnvironmentFile{Path: v}
				f.Path, f.Optional = strings.CutPrefix(v, "-")
				if err := checkAbsolute(f.Path); err != nil {
					return err
				}
				*g(u) = append(*g(u), f)
				return nil
			}
		}),
		{DirectiveInfo{"Service", "WorkingDirectory", KindString}, setWorkingDirectory, func(u, _ *Unit) {
			u.Service.WorkingDirectory, u.Service.WorkingDirectoryOptional = "", false
		}},
		svc("User", KindString, func(s *Service) *string { return &s.User }, checkedString(checkUserName)),
		svc("Group", KindString, func(s *Service) *string { return &s.Group }, checkedString(checkUserName)),
		svc("SupplementaryGroups", KindList, func(s *Service) *[]string { return &s.SupplementaryGroups }, wordsSet(checkUserName)),
		svc("UMask", KindString, func(s *Service) *os.FileMode { return &s.UMask }, modeField),
		svc("NoNewPrivileges", KindBool, func(s *Service) *bool { return &s.NoNewPrivileges }, boolSet),
		svc("LimitNOFILE", KindString, func(s *Service) **Rlimit { return &s.LimitNOFILE }, rlimitSet),
		svc("Restart", KindString, func(s *Service) *RestartPolicy { return &s.Restart }, func(g func(*Unit) *RestartPolicy) setter {
			return enumField(g, []RestartPolicy{RestartNo, RestartAlways, RestartOnSuccess, RestartOnFailure, RestartOnAbnormal, RestartOnAbort,
				RestartOnWatchdog}, nil)
		}),
		svc("RestartSec", KindTimespan, func(s *Service) *time.Duration { return &s.RestartSec }, durationSet(false)),
		svc("TimeoutStartSec", KindTimespan, func(s *Service) *time.Duration { return &s.TimeoutStart }, durationSet(true)),
		svc("TimeoutStopSec", KindTimespan, func(s *Service) *time.Duration { return &s.TimeoutStop }, durationSet(true)),
		{DirectiveInfo{"Service", "TimeoutSec", KindTimespan}, setTimeoutSec, func(u, def *Unit) {
			u.Service.TimeoutStart, u.Service.TimeoutStop = def.Service.TimeoutStart, def.Service.TimeoutStop
		}},
		svc("KillMode", KindString, func(s *Service) *KillMode { return &s.KillMode }, func(g func(*Unit) *KillMode) setter {
			return enumField(g, []KillMode{KillControlGroup, KillMixed, KillProcess},
				map[string]string{"none": "sockd always stops what it started"})
		}),
		svc("KillSignal", KindString, func(s *Service) *syscall.Signal { return &s.KillSignal }, signalSet),
		svc("SendSIGKILL", KindBool, func(s *Service) *bool { return &s.SendSIGKILL }, boolSet),
		svc("StandardInput", KindString, func(s *Service) *StdInput { return &s.StandardInput }, func(g func(*Unit) *StdInput) setter {
			return enumField(g, []StdInput{StdinNull, StdinSocket}, map[string]string{
				"tty": "sockd allocates no terminals", "tty-force": "sockd allocates no terminals", "tty-fail": "sockd allocates no terminals",
				"data": "StandardInputData= is not supported",
			})
		}),
		svc("StandardOutput", KindString, func(s *Service) *StdOutput { return &s.StandardOutput }, outputSet),
		svc("StandardError", KindString, func(s *Service) *StdOutput { return &s.StandardError }, outputSet),
		svc("FileDescriptorStoreMax", KindInt, func(s *Service) *int { return &s.FileDescriptorStoreMax }, intSet(0, 4096)),
		svc("GracefulReadySec", KindTimespan, func(s *Service) *time.Duration { return &s.GracefulReady }, durationSet(false)),
	}
}

func commandDirective(name string, get func(s *Service) *[]Command) directive {
	g := func(u *Unit) *[]Command { return get(&u.Service) }
	return d("Service", name, KindCommand, g, func(u *Unit, v string) error {
		cmds, err := ParseCommands(v)
		if err != nil {
			return err
		}
		*g(u) = append(*g(u), cmds...)
		return nil
	})
}

func setWorkingDirectory(u *Unit, v string) error {
	dir, optional := strings.CutPrefix(v, "-")
	if dir != "~" {
		if err := checkAbsolute(dir); err != nil {
			return err
		}
	}
	u.Service.WorkingDirectory, u.Service.WorkingDirectoryOptional = dir, optional
	return nil
}

func setTimeoutSec(u *Unit, v string) error {
	var d time.Duration
	if err := durationField(func(*Unit) *time.Duration { return &d }, true)(u, v); err != nil {
		return err
	}
	u.Service.TimeoutStart, u.Service.TimeoutStop = d, d
	return nil
}

// checkAssignment checks an Environment= word is NAME=VALUE with a valid name.
func checkAssignment(w string) error {
	name, _, ok := strings.Cut(w, "=")
	if !ok || !ValidEnvName(name) {
		return fmt.Errorf("invalid environment assignment %q, want NAME=VALUE", w)
	}
	return nil
}

// ValidEnvName reports whether s is a valid environment variable name:
// letters, digits and "_", not starting with a digit (systemd's
// env_name_is_valid).
func ValidEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// checkUserName accepts a user or group name, or a numeric id, as
// systemd's valid_user_group_name does in its relaxed form.
func checkUserName(s string) error {
	if s == "" || len(s) > 256 || s[0] == '-' || strings.ContainsAny(s, ":/ \t\n,") || s == "." || s == ".." {
		return fmt.Errorf("invalid user or group name %q", s)
	}
	return nil
}

func signalSet(g func(u *Unit) *syscall.Signal) setter {
	return func(u *Unit, v string) error {
		sig, err := ParseSignal(v)
		if err != nil {
			return err
		}
		*g(u) = sig
		return nil
	}
}

// rlimitSet parses "N", "SOFT:HARD" or "infinity" for LimitNOFILE=.
func rlimitSet(g func(u *Unit) **Rlimit) setter {
	return func(u *Unit, v string) error {
		softStr, hardStr, both := strings.Cut(v, ":")
		soft, err := parseRlimitValue(softStr)
		if err != nil {
			return err
		}
		hard := soft
		if both {
			if hard, err = parseRlimitValue(hardStr); err != nil {
				return err
			}
		}
		if soft > hard {
			return fmt.Errorf("soft limit %s is above the hard limit %s", softStr, hardStr)
		}
		*g(u) = &Rlimit{Soft: soft, Hard: hard}
		return nil
	}
}

func parseRlimitValue(s string) (uint64, error) {
	if s == "infinity" {
		return Infinity, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid limit %q, want a number or infinity", s)
	}
	return n, nil
}

// outputSet parses StandardOutput=/StandardError=.
func outputSet(g func(u *Unit) *StdOutput) setter {
	return func(u *Unit, v string) error {
		kind, path, hasPath := strings.Cut(v, ":")
		switch kind {
		case OutInherit, OutNull, OutJournal, OutSocket, OutJournalConsole, OutKmsg, OutKmsgConsole:
			if !hasPath {
				*g(u) = StdOutput{Kind: kind}
				return nil
			}
		case OutFile, OutAppend, OutTruncate:
			if hasPath {
				if err := checkAbsolute(path); err != nil {
					return err
				}
				*g(u) = StdOutput{Kind: kind, Path: path}
				return nil
			}
		case "tty", "fd":
			return fmt.Errorf("value %q is not supported by sockd; use journal, kmsg, null, inherit, socket or file:PATH", v)
		}
		return fmt.Errorf("invalid value %q, want inherit, null, journal, socket, file:PATH, append:PATH or truncate:PATH", v)
	}
}
