package units

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

// execDirectives are the directives of systemd.exec(5), systemd.service(5)
// and systemd.unit(5) that issue 14 added: process attributes, exec
// directories, exit status rules and the start limit.
func execDirectives() []directive {
	t := processDirectives()
	t = append(t,
		commandDirective("ExecCondition", func(s *Service) *[]Command { return &s.ExecCondition }),
		commandDirective("ExecStopPost", func(s *Service) *[]Command { return &s.ExecStopPost }))
	t = append(t, dirDirectives()...)
	t = append(t, readinessDirectives()...)
	t = append(t, resourceDirectives()...)
	t = append(t, loggingDirectives()...)
	return append(t, exitDirectives()...)
}

func proc[T any](name string, kind ValueKind, get func(p *Process) *T, set func(func(u *Unit) *T) setter) directive {
	return svc(name, kind, func(s *Service) *T { return get(&s.Process) }, set)
}

func processDirectives() []directive {
	var t []directive
	for _, name := range RlimitNames {
		if name == "NOFILE" {
			continue // LimitNOFILE= is in the service table
		}
		set := func(u *Unit, v string) error {
			l, err := ParseRlimit(name, v)
			if err != nil {
				return err
			}
			if u.Service.Process.Limits == nil {
				u.Service.Process.Limits = map[string]Rlimit{}
			}
			u.Service.Process.Limits[name] = l
			return nil
		}
		reset := func(u, _ *Unit) {
			delete(u.Service.Process.Limits, name)
			if len(u.Service.Process.Limits) == 0 {
				u.Service.Process.Limits = nil
			}
		}
		t = append(t, directive{DirectiveInfo{"Service", "Limit" + name, KindString}, set, reset})
	}
	return append(t,
		proc("OOMScoreAdjust", KindInt, func(p *Process) **int { return &p.OOMScoreAdjust }, optIntSet(-1000, 1000)),
		proc("Nice", KindInt, func(p *Process) **int { return &p.Nice }, optIntSet(-20, 19)),
		proc("CPUSchedulingPolicy", KindString, func(p *Process) *string { return &p.CPUSchedulingPolicy }, keySet(SchedPolicies)),
		proc("CPUSchedulingPriority", KindInt, func(p *Process) **int { return &p.CPUSchedulingPriority }, optIntSet(0, 99)),
		proc("CPUSchedulingResetOnFork", KindBool, func(p *Process) *bool { return &p.CPUSchedulingResetOnFork }, boolSet),
		proc("CPUAffinity", KindList, func(p *Process) *[]int { return &p.CPUAffinity }, func(g func(*Unit) *[]int) setter {
			return func(u *Unit, v string) error {
				cpus, err := ParseCPUSet(v)
				if err != nil {
					return err
				}
				*g(u) = unionSorted(*g(u), cpus)
				return nil
			}
		}),
		proc("IOSchedulingClass", KindString, func(p *Process) *string { return &p.IOSchedulingClass }, ioClassSet),
		proc("IOSchedulingPriority", KindInt, func(p *Process) **int { return &p.IOSchedulingPriority }, optIntSet(0, 7)),
		proc("Personality", KindString, func(p *Process) *string { return &p.Personality }, func(g func(*Unit) *string) setter {
			return func(u *Unit, v string) error {
				if _, ok := Personalities()[v]; !ok {
					return fmt.Errorf("personality %q is not an architecture this host runs", v)
				}
				*g(u) = v
				return nil
			}
		}),
		proc("NonBlocking", KindBool, func(p *Process) *bool { return &p.NonBlocking }, boolSet),
	)
}

// keySet accepts one of the keys of m.
func keySet[V any](m map[string]V) func(func(*Unit) *string) setter {
	return func(g func(*Unit) *string) setter {
		return func(u *Unit, v string) error {
			if _, ok := m[v]; !ok {
				return fmt.Errorf("invalid value %q, want one of %s", v, strings.Join(sortedKeys(m), ", "))
			}
			*g(u) = v
			return nil
		}
	}
}

// ioClassSet accepts IOSchedulingClass= by name or number (0…3).
func ioClassSet(g func(*Unit) *string) setter {
	return func(u *Unit, v string) error {
		for name, n := range IOClasses {
			if v == fmt.Sprint(n) {
				v = name
			}
		}
		return keySet(IOClasses)(g)(u, v)
	}
}

func dirDirectives() []directive {
	var t []directive
	for k := DirKind(0); k < NumDirKinds; k++ {
		t = append(t,
			svc(k.String()+"Directory", KindList, func(s *Service) *[]string { return &s.Dirs.Paths[k] }, wordsSet(checkRelativeDir)),
			svc(k.String()+"DirectoryMode", KindString, func(s *Service) *os.FileMode { return &s.Dirs.Modes[k] }, modeField))
	}
	return append(t, svc("RuntimeDirectoryPreserve", KindString, func(s *Service) *string { return &s.Dirs.RuntimePreserve },
		func(g func(*Unit) *string) setter {
			return func(u *Unit, v string) error {
				if b, err := ParseBool(v); err == nil {
					v = map[bool]string{true: "yes", false: "no"}[b]
				} else if v != "restart" {
					return fmt.Errorf("invalid value %q, want yes, no or restart", v)
				}
				*g(u) = v
				return nil
			}
		}))
}

func exits[T any](section, name string, kind ValueKind, get func(e *ExitRules) *T, set func(func(u *Unit) *T) setter) directive {
	g := func(u *Unit) *T { return get(&u.Service.Exits) }
	return d(section, name, kind, g, set(g))
}

func exitDirectives() []directive {
	statusSet := func(g func(*Unit) *ExitStatusSet) setter {
		return func(u *Unit, v string) error {
			words, err := SplitWords(v, false)
			if err != nil {
				return err
			}
			s := *g(u)
			for _, w := range words {
				if err := s.add(w); err != nil {
					return err
				}
			}
			*g(u) = s
			return nil
		}
	}
	t := []directive{
		exits("Service", "SuccessExitStatus", KindList, func(e *ExitRules) *ExitStatusSet { return &e.Success }, statusSet),
		exits("Service", "RestartPreventExitStatus", KindList, func(e *ExitRules) *ExitStatusSet { return &e.RestartPrevent }, statusSet),
		exits("Service", "RestartForceExitStatus", KindList, func(e *ExitRules) *ExitStatusSet { return &e.RestartForce }, statusSet),
		exits("Service", "RestartKillSignal", KindString, func(e *ExitRules) *syscall.Signal { return &e.RestartKillSignal }, signalSet),
		exits("Service", "FinalKillSignal", KindString, func(e *ExitRules) *syscall.Signal { return &e.FinalKillSignal }, signalSet),
	}
	// [Unit] StartLimitIntervalSec= and StartLimitBurst=, and the old
	// StartLimitInterval=; the [Service] spellings that systemd still
	// reads (load-fragment-gperf.gperf.in), as docker.service uses them,
	// are mapped to these by the Builder (legacyUnitDirective).
	for _, n := range []string{"StartLimitIntervalSec", "StartLimitInterval"} {
		t = append(t, exits("Unit", n, KindTimespan, func(e *ExitRules) *time.Duration { return &e.StartLimitInterval }, durationSet(true)))
	}
	t = append(t,
		exits("Unit", "StartLimitBurst", KindInt, func(e *ExitRules) *int { return &e.StartLimitBurst }, intSet(0, 1<<31-1)),
		exits("Unit", "StartLimitAction", KindString, func(e *ExitRules) *string { return new(string) }, func(g func(*Unit) *string) setter {
			return func(u *Unit, v string) error {
				if v != "none" {
					return fmt.Errorf("value %q is not supported by sockd: it does not reboot or power off the machine; only none", v)
				}
				return nil
			}
		}))
	return t
}

// legacyUnitDirective reports whether a [Service] directive is an old
// spelling of a [Unit] one.
func legacyUnitDirective(name string) bool {
	switch name {
	case "StartLimitInterval", "StartLimitBurst", "StartLimitAction":
		return true
	}
	return false
}

// socketIgnoresUnit reports whether a [Unit] directive in a .socket file
// is ignored: the start limit of the socket unit itself, which sockd
// starts once (its activations are limited by TriggerLimit*=).
func socketIgnoresUnit(directive string) bool {
	return strings.HasPrefix(directive, "StartLimit")
}

// unionSorted returns the sorted union of two sorted lists.
func unionSorted(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// execErrors checks the rules of issue 14's directives that span
// others.
func execErrors(u *Unit) ErrorList {
	var errs ErrorList
	svc := &u.Service
	at := func(d string) Position { return positionOf(u, "Service", d) }
	switch {
	case svc.Type == TypeForking && svc.Ready.PIDFile == "" && !svc.Ready.GuessMainPID:
		errs = append(errs, Errorf(at("GuessMainPID"), "Type=forking needs PIDFile= or GuessMainPID=yes: sockd supervises a main process"))
	case svc.Type == TypeForking && u.Socket.Accept, svc.Type == TypeOneshot && u.Socket.Accept:
		errs = append(errs, Errorf(at("Type"), "Type=%s is not supported with Accept=yes", svc.Type))
	case svc.Type == TypeOneshot && svc.Restart != RestartNo && svc.Restart != RestartOnFailure:
		errs = append(errs, Errorf(at("Restart"), "Type=oneshot allows only Restart=no or on-failure, as in systemd"))
	case svc.Type == TypeDbus && svc.Ready.BusName == "":
		errs = append(errs, Errorf(at("Type"), "Type=dbus needs BusName="))
	case svc.Type == TypeDbus && u.Socket.Accept:
		errs = append(errs, Errorf(at("Type"), "Type=dbus is not supported with Accept=yes"))
	case svc.Ready.RemainAfterExit && svc.Type != TypeOneshot:
		errs = append(errs, Errorf(at("RemainAfterExit"), "RemainAfterExit= is supported with Type=oneshot only"))
	}
	if u.Socket.Accept && svc.Resources.Any() {
		errs = append(errs, Errorf(at("Service"), "resource control (TasksMax=, MemoryMax=, CPUQuota=, …) is not supported with Accept=yes"))
	}
	if u.Socket.Accept {
		for _, name := range []string{"ExecCondition", "ExecStopPost"} {
			if len(*commandsOf(svc, name)) > 0 {
				errs = append(errs, Errorf(positionOf(u, "Service", name), "not supported with Accept=yes: sockd runs it for Accept=no services only"))
			}
		}
	}
	return errs
}
