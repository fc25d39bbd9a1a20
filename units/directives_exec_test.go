package units

import (
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"
)

func init() { directiveCases = append(directiveCases, execDirectiveCases()...) }

// execDirectiveCases are the rows of directiveCases for execDirectives.
func execDirectiveCases() []directiveCase {
	sv := func(name, good string, get func(s *Service) any, want any, bad, reason string) directiveCase {
		return directiveCase{"Service", name, good, func(u *Unit) any { return get(&u.Service) }, want, bad, reason}
	}
	cases := []directiveCase{
		sv("LimitCPU", "1min:infinity", func(s *Service) any { return s.Process.Limits["CPU"] }, Rlimit{60, Infinity}, "2:1", "soft limit 2 is above the hard limit 1"),
		sv("LimitFSIZE", "1G", func(s *Service) any { return s.Process.Limits["FSIZE"] }, Rlimit{1 << 30, 1 << 30}, "1Q", `invalid size "1Q"`),
		sv("LimitDATA", "infinity", func(s *Service) any { return s.Process.Limits["DATA"] }, Rlimit{Infinity, Infinity}, "", ""),
		sv("LimitSTACK", "8M:16M", func(s *Service) any { return s.Process.Limits["STACK"] }, Rlimit{8 << 20, 16 << 20}, "", ""),
		sv("LimitCORE", "0", func(s *Service) any { return s.Process.Limits["CORE"] }, Rlimit{0, 0}, "", ""),
		sv("LimitRSS", "1K", func(s *Service) any { return s.Process.Limits["RSS"] }, Rlimit{1024, 1024}, "", ""),
		sv("LimitNPROC", "512:1024", func(s *Service) any { return s.Process.Limits["NPROC"] }, Rlimit{512, 1024}, "lots", `invalid limit "lots", want a number or infinity`),
		sv("LimitMEMLOCK", "64M", func(s *Service) any { return s.Process.Limits["MEMLOCK"] }, Rlimit{64 << 20, 64 << 20}, "", ""),
		sv("LimitAS", "infinity", func(s *Service) any { return s.Process.Limits["AS"] }, Rlimit{Infinity, Infinity}, "", ""),
		sv("LimitLOCKS", "100", func(s *Service) any { return s.Process.Limits["LOCKS"] }, Rlimit{100, 100}, "", ""),
		sv("LimitSIGPENDING", "100", func(s *Service) any { return s.Process.Limits["SIGPENDING"] }, Rlimit{100, 100}, "", ""),
		sv("LimitMSGQUEUE", "1M", func(s *Service) any { return s.Process.Limits["MSGQUEUE"] }, Rlimit{1 << 20, 1 << 20}, "", ""),
		sv("LimitNICE", "-5", func(s *Service) any { return s.Process.Limits["NICE"] }, Rlimit{25, 25}, "41", "invalid nice limit \"41\", want 0…40 or a signed nice level"),
		sv("LimitRTPRIO", "50", func(s *Service) any { return s.Process.Limits["RTPRIO"] }, Rlimit{50, 50}, "", ""),
		sv("LimitRTTIME", "2s:infinity", func(s *Service) any { return s.Process.Limits["RTTIME"] }, Rlimit{2000000, Infinity}, "", ""),
		sv("OOMScoreAdjust", "-900", func(s *Service) any { return s.Process.OOMScoreAdjust }, ptr(-900), "1001", "1001 out of range -1000…1000"),
		sv("Nice", "5", func(s *Service) any { return s.Process.Nice }, ptr(5), "20", "20 out of range -20…19"),
		sv("CPUSchedulingPolicy", "batch", func(s *Service) any { return s.Process.CPUSchedulingPolicy }, "batch", "deadline", `invalid value "deadline", want one of batch, fifo, idle, other, rr`),
		sv("CPUSchedulingPriority", "10", func(s *Service) any { return s.Process.CPUSchedulingPriority }, ptr(10), "100", "100 out of range 0…99"),
		sv("CPUSchedulingResetOnFork", "yes", func(s *Service) any { return s.Process.CPUSchedulingResetOnFork }, true, "", ""),
		sv("CPUAffinity", "0 2-3,1", func(s *Service) any { return s.Process.CPUAffinity }, []int{0, 1, 2, 3}, "numa", "CPUAffinity=numa is not supported: sockd sets no NUMA policy"),
		sv("IOSchedulingClass", "2", func(s *Service) any { return s.Process.IOSchedulingClass }, "best-effort", "fast", `invalid value "fast", want one of best-effort, idle, none, realtime`),
		sv("IOSchedulingPriority", "7", func(s *Service) any { return s.Process.IOSchedulingPriority }, ptr(7), "8", "8 out of range 0…7"),
		sv("Personality", "x86", func(s *Service) any { return s.Process.Personality }, "x86", "pdp11", `personality "pdp11" is not an architecture this host runs`),
		sv("NonBlocking", "yes", func(s *Service) any { return s.Process.NonBlocking }, true, "", ""),
		sv("RuntimeDirectoryPreserve", "restart", func(s *Service) any { return s.Dirs.RuntimePreserve }, "restart", "maybe", `invalid value "maybe", want yes, no or restart`),
		sv("SuccessExitStatus", "3 SIGUSR1 TERM", func(s *Service) any { return s.Exits.Success },
			ExitStatusSet{Codes: []int{3}, Signals: []syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM}}, "256", "exit status 256 out of range 0…255"),
		sv("RestartPreventExitStatus", "255", func(s *Service) any { return s.Exits.RestartPrevent }, ExitStatusSet{Codes: []int{255}}, "SIGFOO", `invalid exit status or signal "SIGFOO"`),
		sv("RestartForceExitStatus", "SIGABRT", func(s *Service) any { return s.Exits.RestartForce }, ExitStatusSet{Signals: []syscall.Signal{syscall.SIGABRT}}, "", ""),
		sv("RestartKillSignal", "SIGINT", func(s *Service) any { return s.Exits.RestartKillSignal }, syscall.SIGINT, "SIGNOPE", `invalid signal "SIGNOPE"`),
		sv("FinalKillSignal", "SIGQUIT", func(s *Service) any { return s.Exits.FinalKillSignal }, syscall.SIGQUIT, "", ""),
	}
	for _, name := range []string{"ExecCondition", "ExecStopPost"} {
		cases = append(cases, sv(name, "-/bin/true a", func(s *Service) any { return *commandsOf(s, name) },
			[]Command{{Path: "/bin/true", Argv: []string{"/bin/true", "a"}, IgnoreFailure: true}}, "", ""))
	}
	for k := DirKind(0); k < NumDirKinds; k++ {
		cases = append(cases,
			sv(k.String()+"Directory", "a b/c", func(s *Service) any { return s.Dirs.Paths[k] }, []string{"a", "b/c"}, "../x", `path "../x" is not normalized`),
			sv(k.String()+"DirectoryMode", "0700", func(s *Service) any { return s.Dirs.Modes[k] }, os.FileMode(0o700), "", ""))
	}
	// In the test's build, [Unit] goes to the .socket file, where the
	// start limit is the socket unit's own and ignored:
	// TestStartLimitUnitSection checks the .service file.
	for _, n := range []string{"StartLimitIntervalSec", "StartLimitInterval", "StartLimitBurst", "StartLimitAction"} {
		cases = append(cases, directiveCase{"Unit", n, "1", func(u *Unit) any { return u.Service.Exits }, defaultUnit("web").Service.Exits, "", ""})
	}
	return cases
}

// TestStartLimitUnitSection: [Unit] StartLimit*= of the .service file
// set the service's start limit; an interval of 0 disables it.
func TestStartLimitUnitSection(t *testing.T) {
	svcAt := func(name, value string, line int) Assignment {
		a := at("Unit", name, value, line)
		a.Pos.File = testServiceFile
		return a
	}
	u, err := build(svcAt("StartLimitIntervalSec", "0", 1), svcAt("StartLimitBurst", "3", 2), svcAt("StartLimitAction", "none", 3))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Service.Exits; got.StartLimitInterval != 0 || got.StartLimitBurst != 3 {
		t.Errorf("got interval %v burst %d; want 0 and 3", got.StartLimitInterval, got.StartLimitBurst)
	}
	// The old [Service] spellings, as docker.service has them.
	u, err = build(at("Service", "StartLimitInterval", "60s", 1), at("Service", "StartLimitBurst", "3", 2))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Service.Exits; got.StartLimitInterval != time.Minute || got.StartLimitBurst != 3 {
		t.Errorf("[Service] spellings: got interval %v burst %d; want 1m and 3", got.StartLimitInterval, got.StartLimitBurst)
	}
	_, err = build(svcAt("StartLimitAction", "reboot-force", 4))
	wantErrors(t, "StartLimitAction", err, testServiceFile+`:4: [Unit] StartLimitAction: value "reboot-force" is not supported by sockd: it does not reboot or power off the machine; only none`)
}

func init() { directiveCases = append(directiveCases, conditionCases()...) }

// conditionCases are the rows of directiveCases for Condition*= and
// Assert*=; the test puts [Unit] in the socket file.
func conditionCases() []directiveCase {
	var cases []directiveCase
	for _, prefix := range []string{"Condition", "Assert"} {
		for _, check := range ConditionChecks {
			param, bad, reason := "x86-64", "", ""
			if pathChecks[check] {
				param, bad, reason = "/etc/x", "|etc", `path "etc" is not absolute`
			}
			want := []Condition{{Name: check, Assert: prefix == "Assert", Trigger: true, Negate: true, Param: param}}
			cases = append(cases, directiveCase{"Unit", prefix + check, "|!" + param,
				func(u *Unit) any { return u.Socket.Conditions }, want, bad, reason})
		}
	}
	return cases
}

// TestConditions: conditions of the service file go to the service,
// prefixes combine, an empty value resets the conditions (or asserts) so
// far, and systemd's checks that sockd cannot evaluate are refused.
func TestConditions(t *testing.T) {
	svcAt := func(name, value string, line int) Assignment {
		a := at("Unit", name, value, line)
		a.Pos.File = testServiceFile
		return a
	}
	u, err := build(
		svcAt("ConditionPathExists", "/a", 1), svcAt("AssertUser", "root", 2),
		svcAt("ConditionPathExists", "", 3), svcAt("ConditionHost", "| ! web1", 4),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []Condition{{Name: "User", Assert: true, Param: "root"}, {Name: "Host", Trigger: true, Negate: true, Param: "web1"}}
	if !reflect.DeepEqual(u.Service.Conditions, want) || u.Socket.Conditions != nil {
		t.Errorf("service conditions %+v, socket %+v; want %+v and none", u.Service.Conditions, u.Socket.Conditions, want)
	}
	_, err = build(svcAt("ConditionCredential", "x", 5))
	wantErrors(t, "ConditionCredential", err, testServiceFile+":5: [Unit] ConditionCredential: not supported by sockd: sockd passes no credentials (LoadCredential=)")
}

func init() {
	sv := func(name, good string, get func(s *Service) any, want any, bad, reason string) directiveCase {
		return directiveCase{"Service", name, good, func(u *Unit) any { return get(&u.Service) }, want, bad, reason}
	}
	directiveCases = append(directiveCases,
		sv("WatchdogSec", "3min", func(s *Service) any { return s.Ready.Watchdog }, 3*time.Minute, "soon", `invalid time span "soon"`),
		sv("WatchdogSignal", "SIGKILL", func(s *Service) any { return s.Ready.WatchdogSignal }, syscall.SIGKILL, "SIGNOPE", `invalid signal "SIGNOPE"`),
		sv("PIDFile", "/run/web.pid", func(s *Service) any { return s.Ready.PIDFile }, "/run/web.pid", "web.pid", `path "web.pid" is not absolute`),
		sv("GuessMainPID", "no", func(s *Service) any { return s.Ready.GuessMainPID }, false, "", ""),
		sv("BusName", "org.freedesktop.Avahi", func(s *Service) any { return s.Ready.BusName }, "org.freedesktop.Avahi", "avahi", `invalid bus name "avahi"`),
		sv("RemainAfterExit", "yes", func(s *Service) any { return s.Ready.RemainAfterExit }, true, "", ""),
		sv("TimeoutAbortSec", "infinity", func(s *Service) any { return s.Ready.TimeoutAbort }, ptr(time.Duration(0)), "", ""),
	)
}

func init() {
	sv := func(name, good string, get func(r *Resources) any, want any, bad, reason string) directiveCase {
		return directiveCase{"Service", name, good, func(u *Unit) any { return get(&u.Service.Resources) }, want, bad, reason}
	}
	directiveCases = append(directiveCases,
		sv("TasksMax", "15%", func(r *Resources) any { return r.TasksMax }, Limit{Set: true, Percent: 15}, "many", `invalid value "many", want a number, a percentage or infinity`),
		sv("MemoryMax", "1G", func(r *Resources) any { return r.MemoryMax }, Limit{Set: true, Value: 1 << 30}, "101%", `invalid percentage "101%"`),
		sv("MemoryHigh", "infinity", func(r *Resources) any { return r.MemoryHigh }, Limit{Set: true, Infinity: true}, "", ""),
		sv("MemoryLow", "64M", func(r *Resources) any { return r.MemoryLow }, Limit{Set: true, Value: 64 << 20}, "", ""),
		sv("CPUQuota", "150%", func(r *Resources) any { return r.CPUQuota }, 150, "1.5", `invalid CPU quota "1.5", want a percentage above 0%`),
		sv("CPUWeight", "200", func(r *Resources) any { return r.CPUWeight }, 200, "0", "0 out of range 1…10000"),
		sv("IOWeight", "10000", func(r *Resources) any { return r.IOWeight }, 10000, "", ""),
		sv("Delegate", "yes", func(r *Resources) any { return r.Delegate }, true, "", ""),
	)
}

func init() {
	sv := func(name, good string, get func(l *Logging) any, want any, bad, reason string) directiveCase {
		return directiveCase{"Service", name, good, func(u *Unit) any { return get(&u.Service.Logging) }, want, bad, reason}
	}
	directiveCases = append(directiveCases,
		sv("SyslogIdentifier", "web-%n", func(l *Logging) any { return l.SyslogIdentifier }, "web-web.service", "", ""),
		sv("SyslogFacility", "local3", func(l *Logging) any { return l.SyslogFacility }, 19, "local9", `invalid syslog facility "local9"`),
		sv("SyslogLevel", "warning", func(l *Logging) any { return l.SyslogLevel }, 4, "loud", `invalid syslog level "loud"`),
		sv("SyslogLevelPrefix", "no", func(l *Logging) any { return l.SyslogLevelPrefix }, false, "", ""),
		sv("LogLevelMax", "notice", func(l *Logging) any { return l.LogLevelMax }, 5, "8", `invalid log level "8"`),
	)
}
