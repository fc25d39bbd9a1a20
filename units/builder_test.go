package units

import (
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wantErrors checks that err lists exactly want, in order.
func wantErrors(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got errors\n\t%s\nwant\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestBuilderDefaults(t *testing.T) {
	u, err := build()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Name", u.Name, "web"},
		{"Backlog", u.Socket.Backlog, 4096},
		{"MaxConnections", u.Socket.MaxConnections, 64},
		{"BindIPv6Only", u.Socket.BindIPv6Only, BindIPv6Default},
		{"SocketMode", u.Socket.SocketMode, fileMode(0666)},
		{"DirectoryMode", u.Socket.DirectoryMode, fileMode(0755)},
		{"TriggerLimitInterval", u.Socket.TriggerLimitInterval, 2 * time.Second},
		{"TriggerLimitBurst", u.Socket.TriggerLimitBurst, 20},
		{"Service.Name", u.Service.Name, "web.service"},
		{"Type", u.Service.Type, TypeSimple},
		{"UMask", u.Service.UMask, fileMode(0022)},
		{"Restart", u.Service.Restart, RestartNo},
		{"RestartSec", u.Service.RestartSec, 100 * time.Millisecond},
		{"TimeoutStart", u.Service.TimeoutStart, 90 * time.Second},
		{"TimeoutStop", u.Service.TimeoutStop, 90 * time.Second},
		{"KillMode", u.Service.KillMode, KillControlGroup},
		{"KillSignal", u.Service.KillSignal, syscall.SIGTERM},
		{"SendSIGKILL", u.Service.SendSIGKILL, true},
		{"StandardInput", u.Service.StandardInput, StdinNull},
		{"StandardOutput", u.Service.StandardOutput, StdOutput{Kind: OutJournal}},
		{"StandardError", u.Service.StandardError, StdOutput{Kind: OutInherit}},
		{"FileDescriptorStoreMax", u.Service.FileDescriptorStoreMax, 0},
		{"GracefulReady", u.Service.GracefulReady, time.Second},
		{"Files", u.Files, []string{testSocketFile, testServiceFile}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default %s = %v; want %v", c.name, c.got, c.want)
		}
	}
}

func TestBuilderDependentDefaults(t *testing.T) {
	cases := []struct {
		name  string
		lines []Assignment
		get   func(u *Unit) any
		want  any
	}{
		{"Accept=yes raises TriggerLimitBurst to 200",
			[]Assignment{at("Socket", "Accept", "yes", 1)},
			func(u *Unit) any { return u.Socket.TriggerLimitBurst }, 200},
		{"TriggerLimitBurst= wins over Accept=yes",
			[]Assignment{at("Socket", "TriggerLimitBurst", "50", 1), at("Socket", "Accept", "yes", 2)},
			func(u *Unit) any { return u.Socket.TriggerLimitBurst }, 50},
		{"TriggerLimitBurst=0 wins over Accept=yes",
			[]Assignment{at("Socket", "Accept", "yes", 1), at("Socket", "TriggerLimitBurst", "0", 2)},
			func(u *Unit) any { return u.Socket.TriggerLimitBurst }, 0},
		{"a reset TriggerLimitBurst= is unset again",
			[]Assignment{at("Socket", "TriggerLimitBurst", "50", 1), at("Socket", "TriggerLimitBurst", "", 2), at("Socket", "Accept", "yes", 3)},
			func(u *Unit) any { return u.Socket.TriggerLimitBurst }, 200},
		{"StandardInput=socket makes StandardOutput inherit",
			[]Assignment{at("Service", "StandardInput", "socket", 1)},
			func(u *Unit) any { return u.Service.StandardOutput }, StdOutput{Kind: OutInherit}},
		{"an explicit StandardOutput= stays",
			[]Assignment{at("Service", "StandardInput", "socket", 1), at("Service", "StandardOutput", "null", 2)},
			func(u *Unit) any { return u.Service.StandardOutput }, StdOutput{Kind: OutNull}},
		{"a reset StandardOutput= follows StandardInput= again",
			[]Assignment{at("Service", "StandardOutput", "null", 1), at("Service", "StandardOutput", "", 2), at("Service", "StandardInput", "socket", 3)},
			func(u *Unit) any { return u.Service.StandardOutput }, StdOutput{Kind: OutInherit}},
		{"the service is NAME.service",
			nil, func(u *Unit) any { return u.Service.Name }, "web.service"},
		{"Service= names the service",
			[]Assignment{at("Socket", "Service", "backend.service", 1)},
			func(u *Unit) any { return u.Service.Name }, "backend.service"},
		{"Accept=yes makes it the template NAME@.service",
			[]Assignment{at("Socket", "Accept", "yes", 1)},
			func(u *Unit) any { return [2]any{u.Service.Name, u.Service.IsTemplate()} }, [2]any{"web@.service", true}},
	}
	for _, c := range cases {
		u, err := build(c.lines...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := c.get(u); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v; want %v", c.name, got, c.want)
		}
	}

	_, err := build(at("Socket", "Service", "backend.service", 4), at("Socket", "Accept", "yes", 5))
	wantErrors(t, "Service= with Accept=yes", err,
		testSocketFile+":4: [Socket] Service: Service= cannot be combined with Accept=yes")

	b := NewBuilder("web", testEnv)
	b.Apply("web.socket", at("Socket", "Accept", "yes", 1))
	if got := b.Socket().ServiceName("web"); got != "web@.service" {
		t.Errorf("Socket().ServiceName during the build = %s; want web@.service", got)
	}
}

func TestBuilderResets(t *testing.T) {
	// An empty Listen*= clears the listeners of every kind, and the
	// listeners declared after it are numbered from 0 at their own lines.
	u, err := build(
		at("Socket", "ListenStream", "80", 1),
		at("Socket", "ListenDatagram", "53", 2),
		at("Socket", "ListenSequentialPacket", "@seq", 3),
		at("Socket", "ListenFIFO", "/run/fifo", 4),
		at("Socket", "ListenDatagram", "", 5),
	)
	if err != nil || len(u.Socket.Listeners) != 0 {
		t.Fatalf("after ListenDatagram=: got listeners %v, %v; want none", u.Socket.Listeners, err)
	}
	u, err = build(
		at("Socket", "ListenStream", "80", 1),
		at("Socket", "ListenFIFO", "/run/fifo", 2),
		at("Socket", "ListenStream", "", 3),
		at("Socket", "ListenDatagram", "53", 4),
	)
	if err != nil || len(u.Socket.Listeners) != 1 || u.Socket.Listeners[0].Kind != Datagram {
		t.Fatalf("got listeners %v, %v; want one datagram listener", u.Socket.Listeners, err)
	}
	if got := u.Where[ElemKey("Socket", "Listen", 0)].Line; got != 4 {
		t.Errorf("listener 0 declared at line %d; want 4", got)
	}
	if _, ok := u.Where[ElemKey("Socket", "Listen", 1)]; ok {
		t.Errorf("a position is still recorded for the cleared listener 1")
	}

	u, err = build(
		at("Service", "ExecStart", "/bin/a", 1),
		at("Service", "ExecStart", "", 2),
		at("Service", "ExecStart", "/bin/b", 3),
		at("Service", "ExecStartPre", "/bin/p ; /bin/q", 4),
		at("Service", "ExecStartPre", "", 5),
		at("Service", "Environment", "A=1", 6),
		at("Service", "Environment", "", 7),
		at("Service", "Environment", "B=2", 8),
		at("Socket", "Symlinks", "/run/a", 9),
		at("Socket", "Symlinks", "", 10),
		at("Socket", "Backlog", "10", 11),
		at("Socket", "Backlog", "", 12),
		at("Service", "TimeoutSec", "5", 13),
		at("Service", "TimeoutSec", "", 14),
		at("Service", "WorkingDirectory", "-/srv", 15),
		at("Service", "WorkingDirectory", "", 16),
		at("Service", "LimitNOFILE", "10", 17),
		at("Service", "LimitNOFILE", "", 18),
		at("Socket", "Priority", "3", 19),
		at("Socket", "Priority", "", 20),
	)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ExecStart", u.Service.ExecStart, []Command{{Path: "/bin/b", Argv: []string{"/bin/b"}}}},
		{"ExecStart#0 line", u.Where[ElemKey("Service", "ExecStart", 0)].Line, 3},
		{"ExecStartPre", u.Service.ExecStartPre, []Command(nil)},
		{"Environment", u.Service.Environment, []string{"B=2"}},
		{"Symlinks", u.Socket.Symlinks, []string(nil)},
		{"Backlog", u.Socket.Backlog, DefaultBacklog},
		{"TimeoutStart", u.Service.TimeoutStart, DefaultTimeout},
		{"TimeoutStop", u.Service.TimeoutStop, DefaultTimeout},
		{"WorkingDirectory", u.Service.WorkingDirectory + " " + map[bool]string{true: "optional"}[u.Service.WorkingDirectoryOptional], " "},
		{"LimitNOFILE", u.Service.LimitNOFILE, (*Rlimit)(nil)},
		{"Priority", u.Socket.Priority, (*int)(nil)},
		{"ExecStartPre position", u.Where[Key("Service", "ExecStartPre")].Line, 5}, // the reset is where it was last set
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v; want %#v", c.name, c.got, c.want)
		}
	}
}

// [Unit] Description= and Documentation= belong to the file they are in.
func TestBuilderDescription(t *testing.T) {
	u, err := build(
		at("Unit", "Description", "The web socket", 1),
		at("Unit", "Documentation", "man:web(8)", 2),
		at("Unit", "Documentation", "https://example.com/", 3),
		Assignment{Section: "Unit", Directive: "Description", Value: "The web service for %n",
			Pos: Position{File: testServiceFile, Line: 1, Directive: "[Unit] Description"}},
		Assignment{Section: "Unit", Directive: "Documentation", Value: "man:webd(8)",
			Pos: Position{File: testServiceFile, Line: 2, Directive: "[Unit] Documentation"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Socket.Description", u.Socket.Description, "The web socket"},
		{"Socket.Documentation", u.Socket.Documentation, []string{"man:web(8)", "https://example.com/"}},
		{"Service.Description", u.Service.Description, "The web service for web.service"},
		{"Service.Documentation", u.Service.Documentation, []string{"man:webd(8)"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
	u, err = build(at("Unit", "Documentation", "man:a(1)", 1), at("Unit", "Documentation", "", 2), at("Unit", "Documentation", "man:b(1)", 3))
	if err != nil || !reflect.DeepEqual(u.Socket.Documentation, []string{"man:b(1)"}) {
		t.Errorf("Documentation after a reset = %q, %v; want [man:b(1)]", u.Socket.Documentation, err)
	}
}

func TestBuilderSections(t *testing.T) {
	// X- sections and X- keys are extensions that systemd ignores too.
	_, err := build(
		at("X-Vendor", "Anything", "%z at all", 1),
		at("Socket", "X-Ours", "whatever", 2),
		at("Unit", "X-Note", "x", 3),
	)
	wantErrors(t, "X- extensions", err)

	_, err = build(
		Assignment{Section: "Service", Directive: "ExecStart", Value: "/bin/true",
			Pos: Position{File: testSocketFile, Line: 5, Directive: "[Service] ExecStart"}},
		Assignment{Section: "Socket", Directive: "ListenStream", Value: "80",
			Pos: Position{File: testServiceFile, Line: 6, Directive: "[Socket] ListenStream"}},
		at("Timer", "OnCalendar", "daily", 7),
		at("x-lower", "Key", "v", 8), // the prefix is case-sensitive
	)
	wantErrors(t, "sections of the wrong file", err,
		testSocketFile+":5: [Service] ExecStart: section [Service] does not belong in a .socket unit",
		testServiceFile+":6: [Socket] ListenStream: section [Socket] does not belong in a .service unit",
		testSocketFile+":7: [Timer] OnCalendar: section [Timer] does not belong in a .socket unit",
		testSocketFile+":8: [x-lower] Key: section [x-lower] does not belong in a .socket unit",
	)
}

func TestBuilderIgnoredUnsupportedUnknown(t *testing.T) {
	// Directives for PID 1's dependency engine and for systemctl enable
	// are accepted and ignored; their values are not even expanded.
	var ignored []Assignment
	for _, section := range []string{"Unit", "Install"} {
		for _, name := range IgnoredDirectives[section] {
			ignored = append(ignored, at(section, name, "x.target %z", 1))
		}
	}
	ignored = append(ignored, Assignment{Section: "Install", Directive: "WantedBy", Value: "multi-user.target",
		Pos: Position{File: testServiceFile, Line: 9, Directive: "[Install] WantedBy"}})
	u, err := build(ignored...)
	wantErrors(t, "ignored directives", err)
	if len(ignored) < 30 || u == nil {
		t.Fatalf("only %d ignored directives", len(ignored))
	}

	_, err = build(
		at("Service", "RootDirectory", "/srv", 1),
		at("Socket", "DeferTrigger", "yes", 2),
		at("Unit", "RebootArgument", "1", 3),
		at("Socket", "PassPIDFD", "yes", 4),
		at("Service", "FileDescriptorStorePreserve", "yes", 5),
	)
	const unsupported = "directive not supported by sockd (see sockd.unit(5): man 5 sockd.unit)"
	wantErrors(t, "unsupported directives", err,
		testServiceFile+":1: [Service] RootDirectory: "+unsupported,
		testSocketFile+":2: [Socket] DeferTrigger: "+unsupported,
		testSocketFile+":3: [Unit] RebootArgument: "+unsupported,
		testSocketFile+":4: [Socket] PassPIDFD: "+unsupported,
		testServiceFile+":5: [Service] FileDescriptorStorePreserve: "+unsupported,
	)

	_, err = build(
		at("Socket", "ListenStrem", "80", 1),
		at("Socket", "listenstream", "80", 2),
		at("Service", "ExecStrat", "/bin/true", 3),
		at("Unit", "Descripton", "x", 4),
		at("Unit", "Wnats", "x.target", 5),
		at("Install", "WantedB", "sockets.target", 6),
		at("Service", "Frobnicate", "1", 7),
		at("Socket", "Backlogs", "5", 8),
	)
	wantErrors(t, "unknown directives", err,
		testSocketFile+":1: [Socket] ListenStrem: unknown directive; did you mean ListenStream?",
		testSocketFile+":2: [Socket] listenstream: unknown directive; did you mean ListenStream?",
		testServiceFile+":3: [Service] ExecStrat: unknown directive; did you mean ExecStart?",
		testSocketFile+":4: [Unit] Descripton: unknown directive; did you mean Description?",
		testSocketFile+":5: [Unit] Wnats: unknown directive; did you mean Wants?",
		testSocketFile+":6: [Install] WantedB: unknown directive; did you mean WantedBy?",
		testServiceFile+":7: [Service] Frobnicate: unknown directive",
		testSocketFile+":8: [Socket] Backlogs: unknown directive; did you mean Backlog?",
	)
}

func TestBuilderCollectsErrors(t *testing.T) {
	u, err := build(
		at("Socket", "ListenStream", "80", 1),
		at("Socket", "Backlog", "many", 2),
		at("Socket", "ListenStream", "localhost:80", 3),
		at("Service", "ExecStart", "/bin/x %z", 4),
		at("Service", "User", "a b", 5),
		at("Socket", "MaxConnections", "10", 6),
	)
	wantErrors(t, "several bad lines", err,
		testSocketFile+`:2: [Socket] Backlog: invalid number "many"`,
		testSocketFile+`:3: [Socket] ListenStream: invalid address "localhost:80": "localhost" is not an IPv4 address (host names are not resolved; IPv6 needs brackets)`,
		testServiceFile+`:4: [Service] ExecStart: unknown specifier %z`,
		testServiceFile+`:5: [Service] User: invalid user or group name "a b"`,
	)
	// The good lines still apply, so callers can show what was understood.
	if u == nil || len(u.Socket.Listeners) != 1 || u.Socket.MaxConnections != 10 {
		t.Errorf("got unit %+v; want the good lines applied", u)
	}
	var e *Error
	if errs := Errors(err); len(errs) == 0 || !asError(errs[0], &e) || e.Pos.Line != 2 || e.Pos.File != testSocketFile {
		t.Errorf("Errors(err)[0] = %#v; want an *Error at %s:2", errs, testSocketFile)
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

func fileMode(m uint32) os.FileMode { return os.FileMode(m) }
