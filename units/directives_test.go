package units

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	testSocketFile  = "/etc/sockd/units/web.socket"
	testServiceFile = "/etc/sockd/units/web.service"
)

// at returns an assignment as systemdfile makes it, at line.
func at(section, directive, value string, line int) Assignment {
	file := testSocketFile
	if section == "Service" {
		file = testServiceFile
	}
	return Assignment{Section: section, Directive: directive, Value: value,
		Pos: Position{File: file, Line: line, Directive: "[" + section + "] " + directive}}
}

// build applies assignments to a unit named "web": [Socket] ones, and
// [Unit]/[Install] ones at a socket file path, to web.socket, [Service]
// ones to web.service; then it finishes the unit.
func build(assignments ...Assignment) (*Unit, error) {
	b := NewBuilder("web", testEnv)
	b.AddFile(testSocketFile)
	b.AddFile(testServiceFile)
	for _, a := range assignments {
		file := "web.socket"
		if a.Pos.File == testServiceFile {
			file = "web.service"
		}
		b.Apply(file, a)
	}
	return b.Finish()
}

func ptr[T any](v T) *T { return &v }

type directiveCase struct {
	section, name string
	good          string
	get           func(u *Unit) any
	want          any
	bad, reason   string // bad is "" for a directive that takes any value
}

// directiveCases has one row per directive of the table.
var directiveCases = []directiveCase{
	{"Unit", "Description", "Web server %n", func(u *Unit) any { return u.Socket.Description }, "Web server web.socket", "", ""},
	{"Unit", "Documentation", `man:web(8) "https://example.com/web docs"`, func(u *Unit) any { return u.Socket.Documentation },
		[]string{"man:web(8)", "https://example.com/web docs"}, `"unterminated`, `unbalanced quoting: "\"unterminated"`},

	{"Socket", "ListenStream", "127.0.0.1:8080", func(u *Unit) any { return u.Socket.Listeners },
		[]Listener{{Stream, Address{Family: FamilyInet, IP: netip.MustParseAddr("127.0.0.1"), Port: 8080}}},
		"8o", `invalid address "8o": want PORT, IPv4:PORT, [IPv6]:PORT, /path, @abstract or vsock:CID:PORT`},
	{"Socket", "ListenDatagram", "[::1]:53", func(u *Unit) any { return u.Socket.Listeners },
		[]Listener{{Datagram, Address{Family: FamilyInet6, IP: netip.MustParseAddr("::1"), Port: 53}}},
		"0", `invalid port "0": want 1…65535`},
	{"Socket", "ListenSequentialPacket", "%t/web.seq", func(u *Unit) any { return u.Socket.Listeners },
		[]Listener{{SequentialPacket, Address{Family: FamilyUnix, Path: "/run/web.seq"}}},
		"@", "empty abstract socket name"},
	{"Socket", "ListenFIFO", "/run/web.fifo", func(u *Unit) any { return u.Socket.Listeners },
		[]Listener{{FIFO, Address{Family: FamilyFIFO, Path: "/run/web.fifo"}}},
		"web.fifo", `FIFO path "web.fifo" is not absolute`},
	{"Socket", "Accept", "yes", func(u *Unit) any { return u.Socket.Accept }, true, "maybe", `invalid boolean "maybe"`},
	{"Socket", "Service", "other.service", func(u *Unit) any { return u.Socket.Service }, "other.service",
		"web.socket", `"web.socket" is not a service unit name`},
	{"Socket", "FileDescriptorName", "http", func(u *Unit) any { return u.Socket.FileDescriptorName }, "http",
		"a:b", `name "a:b" has a character that is not printable ASCII or is ':'`},
	{"Socket", "Backlog", "128", func(u *Unit) any { return u.Socket.Backlog }, 128, "-1", "-1 out of range 0…2147483647"},
	{"Socket", "BindIPv6Only", "ipv6-only", func(u *Unit) any { return u.Socket.BindIPv6Only }, BindIPv6OnlyIPv6,
		"v6", `invalid value "v6", want one of [default both ipv6-only]`},
	{"Socket", "BindToDevice", "eth0", func(u *Unit) any { return u.Socket.BindToDevice }, "eth0", "eth/0", `invalid interface name "eth/0"`},
	{"Socket", "SocketUser", "www-data", func(u *Unit) any { return u.Socket.SocketUser }, "www-data", "a:b", `invalid user or group name "a:b"`},
	{"Socket", "SocketGroup", "www-data", func(u *Unit) any { return u.Socket.SocketGroup }, "www-data", "-x", `invalid user or group name "-x"`},
	{"Socket", "SocketMode", "0660", func(u *Unit) any { return u.Socket.SocketMode }, os.FileMode(0660),
		"0999", `invalid mode "0999", want an octal number up to 07777`},
	{"Socket", "DirectoryMode", "0700", func(u *Unit) any { return u.Socket.DirectoryMode }, os.FileMode(0700),
		"rwx", `invalid mode "rwx", want an octal number up to 07777`},
	{"Socket", "FreeBind", "true", func(u *Unit) any { return u.Socket.FreeBind }, true, "2", `invalid boolean "2"`},
	{"Socket", "Transparent", "on", func(u *Unit) any { return u.Socket.Transparent }, true, "x", `invalid boolean "x"`},
	{"Socket", "ReusePort", "1", func(u *Unit) any { return u.Socket.ReusePort }, true, "enable", `invalid boolean "enable"`},
	{"Socket", "Broadcast", "y", func(u *Unit) any { return u.Socket.Broadcast }, true, "yep", `invalid boolean "yep"`},
	{"Socket", "KeepAlive", "yes", func(u *Unit) any { return u.Socket.KeepAlive }, true, "-", `invalid boolean "-"`},
	{"Socket", "KeepAliveTimeSec", "1min 30s", func(u *Unit) any { return u.Socket.KeepAliveTime }, 90 * time.Second,
		"500ms", "time span 500ms out of range 1s…32767s"},
	{"Socket", "KeepAliveIntervalSec", "75", func(u *Unit) any { return u.Socket.KeepAliveInterval }, 75 * time.Second,
		"10h", "time span 10h0m0s out of range 1s…32767s"},
	{"Socket", "KeepAliveProbes", "9", func(u *Unit) any { return u.Socket.KeepAliveProbes }, 9, "0", "0 out of range 1…127"},
	{"Socket", "NoDelay", "true", func(u *Unit) any { return u.Socket.NoDelay }, true, "truth", `invalid boolean "truth"`},
	{"Socket", "DeferAcceptSec", "30s", func(u *Unit) any { return u.Socket.DeferAccept }, 30 * time.Second,
		"infinity", "infinity is not allowed here"},
	{"Socket", "Priority", "6", func(u *Unit) any { return u.Socket.Priority }, ptr(6), "7", "7 out of range 0…6"},
	{"Socket", "ReceiveBuffer", "1M", func(u *Unit) any { return u.Socket.ReceiveBuffer }, int64(1 << 20),
		"0", "size 0 out of range 1…2147483647"},
	{"Socket", "SendBuffer", "64K", func(u *Unit) any { return u.Socket.SendBuffer }, int64(64 << 10),
		"2G", "size 2147483648 out of range 1…2147483647"},
	{"Socket", "IPTOS", "low-delay", func(u *Unit) any { return u.Socket.IPTOS }, ptr(0x10),
		"fast", `invalid value "fast", want 0…255 or low-delay, throughput, reliability, low-cost`},
	{"Socket", "IPTTL", "64", func(u *Unit) any { return u.Socket.IPTTL }, ptr(64), "0", "0 out of range 1…255"},
	{"Socket", "Mark", "4294967295", func(u *Unit) any { return u.Socket.Mark }, ptr(4294967295),
		"4294967296", "4294967296 out of range 0…4294967295"},
	{"Socket", "PassCredentials", "yes", func(u *Unit) any { return u.Socket.PassCredentials }, true, "ja", `invalid boolean "ja"`},
	{"Socket", "PassPacketInfo", "yes", func(u *Unit) any { return u.Socket.PassPacketInfo }, true, "ja", `invalid boolean "ja"`},
	{"Socket", "MaxConnections", "10", func(u *Unit) any { return u.Socket.MaxConnections }, 10, "0", "0 out of range 1…2147483647"},
	{"Socket", "MaxConnectionsPerSource", "5", func(u *Unit) any { return u.Socket.MaxConnectionsPerSource }, 5,
		"five", `invalid number "five"`},
	{"Socket", "RemoveOnStop", "yes", func(u *Unit) any { return u.Socket.RemoveOnStop }, true, "ja", `invalid boolean "ja"`},
	{"Socket", "Symlinks", "/run/a /run/b", func(u *Unit) any { return u.Socket.Symlinks }, []string{"/run/a", "/run/b"},
		"/run/a run/b", `path "run/b" is not absolute`},
	{"Socket", "TriggerLimitIntervalSec", "5s", func(u *Unit) any { return u.Socket.TriggerLimitInterval }, 5 * time.Second,
		"-1", `invalid time span "-1"`},
	{"Socket", "TriggerLimitBurst", "50", func(u *Unit) any { return u.Socket.TriggerLimitBurst }, 50, "-5", "-5 out of range 0…2147483647"},

	{"Service", "Type", "notify", func(u *Unit) any { return u.Service.Type }, TypeNotify,
		"idle", `value "idle" is not supported by sockd: sockd has no job queue`},
	{"Service", "ExecStart", `/bin/echo "a b"`, func(u *Unit) any { return u.Service.ExecStart },
		[]Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "a b"}}},
		"+!/bin/true", `at most one of the prefixes "+", "!" and "!!" may be used`},
	{"Service", "ExecStartPre", "-/bin/mkdir -p /run/web ; /bin/true", func(u *Unit) any { return u.Service.ExecStartPre },
		[]Command{{Path: "/bin/mkdir", Argv: []string{"/bin/mkdir", "-p", "/run/web"}, IgnoreFailure: true}, {Path: "/bin/true", Argv: []string{"/bin/true"}}},
		"bin/mkdir", `executable path "bin/mkdir" is neither absolute nor a bare file name`},
	{"Service", "ExecStartPost", "@/bin/busybox sh -c x", func(u *Unit) any { return u.Service.ExecStartPost },
		[]Command{{Path: "/bin/busybox", Argv: []string{"sh", "-c", "x"}}},
		"@/bin/busybox", `prefix "@" needs argv[0] after the executable path`},
	{"Service", "ExecStop", ":/bin/kill $MAINPID", func(u *Unit) any { return u.Service.ExecStop },
		[]Command{{Path: "/bin/kill", Argv: []string{"/bin/kill", "$MAINPID"}, NoEnvExpand: true}},
		"|/bin/kill", `prefix "|" (login shell) is not supported by sockd`},
	{"Service", "ExecReload", "kill -HUP $MAINPID", func(u *Unit) any { return u.Service.ExecReload },
		[]Command{{Path: "kill", Argv: []string{"kill", "-HUP", "$MAINPID"}}},
		"-", "empty executable path"},
	{"Service", "Environment", `A=1 "B=2 3" C=`, func(u *Unit) any { return u.Service.Environment }, []string{"A=1", "B=2 3", "C="},
		"A=1 1B=x", `invalid environment assignment "1B=x", want NAME=VALUE`},
	{"Service", "EnvironmentFile", "-/etc/default/web", func(u *Unit) any { return u.Service.EnvironmentFiles },
		[]EnvironmentFile{{Path: "/etc/default/web", Optional: true}}, "web.env", `path "web.env" is not absolute`},
	{"Service", "WorkingDirectory", "-/srv/web", func(u *Unit) any {
		return fmt.Sprint(u.Service.WorkingDirectory, " ", u.Service.WorkingDirectoryOptional)
	}, "/srv/web true", "srv", `path "srv" is not absolute`},
	{"Service", "User", "www-data", func(u *Unit) any { return u.Service.User }, "www-data", "a b", `invalid user or group name "a b"`},
	{"Service", "Group", "1000", func(u *Unit) any { return u.Service.Group }, "1000", "a/b", `invalid user or group name "a/b"`},
	{"Service", "SupplementaryGroups", "adm video", func(u *Unit) any { return u.Service.SupplementaryGroups }, []string{"adm", "video"},
		"a,b", `invalid user or group name "a,b"`},
	{"Service", "UMask", "0077", func(u *Unit) any { return u.Service.UMask }, os.FileMode(0077),
		"8", `invalid mode "8", want an octal number up to 07777`},
	{"Service", "NoNewPrivileges", "yes", func(u *Unit) any { return u.Service.NoNewPrivileges }, true, "ja", `invalid boolean "ja"`},
	{"Service", "LimitNOFILE", "1024:4096", func(u *Unit) any { return u.Service.LimitNOFILE }, &Rlimit{Soft: 1024, Hard: 4096},
		"4096:1024", "soft limit 4096 is above the hard limit 1024"},
	{"Service", "Restart", "on-failure", func(u *Unit) any { return u.Service.Restart }, RestartOnFailure,
		"sometimes", `invalid value "sometimes", want one of [no always on-success on-failure on-abnormal on-abort on-watchdog]`},
	{"Service", "RestartSec", "5s", func(u *Unit) any { return u.Service.RestartSec }, 5 * time.Second,
		"infinity", "infinity is not allowed here"},
	{"Service", "TimeoutStartSec", "infinity", func(u *Unit) any { return u.Service.TimeoutStart }, time.Duration(0),
		"soon", `invalid time span "soon"`},
	{"Service", "TimeoutStopSec", "30s", func(u *Unit) any { return u.Service.TimeoutStop }, 30 * time.Second,
		"1x", `invalid time span "1x"`},
	{"Service", "TimeoutSec", "10s", func(u *Unit) any { return [2]time.Duration{u.Service.TimeoutStart, u.Service.TimeoutStop} },
		[2]time.Duration{10 * time.Second, 10 * time.Second}, "-", `invalid time span "-"`},
	{"Service", "KillMode", "mixed", func(u *Unit) any { return u.Service.KillMode }, KillMixed,
		"none", `value "none" is not supported by sockd: sockd always stops what it started`},
	{"Service", "KillSignal", "SIGINT", func(u *Unit) any { return u.Service.KillSignal }, syscall.SIGINT,
		"SIGFOO", `invalid signal "SIGFOO"`},
	{"Service", "SendSIGKILL", "no", func(u *Unit) any { return u.Service.SendSIGKILL }, false, "nein", `invalid boolean "nein"`},
	{"Service", "StandardInput", "socket", func(u *Unit) any { return u.Service.StandardInput }, StdinSocket,
		"tty", `value "tty" is not supported by sockd: sockd allocates no terminals`},
	{"Service", "StandardOutput", "file:/var/log/web.log", func(u *Unit) any { return u.Service.StandardOutput },
		StdOutput{Kind: OutFile, Path: "/var/log/web.log"},
		"tty", `value "tty" is not supported by sockd; use journal, kmsg, null, inherit, socket or file:PATH`},
	{"Service", "StandardError", "null", func(u *Unit) any { return u.Service.StandardError }, StdOutput{Kind: OutNull},
		"truncate:log", `path "log" is not absolute`},
	{"Service", "FileDescriptorStoreMax", "16", func(u *Unit) any { return u.Service.FileDescriptorStoreMax }, 16,
		"4097", "4097 out of range 0…4096"},
	{"Service", "GracefulReadySec", "2.5s", func(u *Unit) any { return u.Service.GracefulReady }, 2500 * time.Millisecond,
		"infinity", "infinity is not allowed here"},
}

func TestDirectivesCovered(t *testing.T) {
	rows := map[string]bool{}
	for _, c := range directiveCases {
		rows[Key(c.section, c.name)] = true
		if _, ok := LookupDirective(c.section, c.name); !ok {
			t.Errorf("test row %s: LookupDirective finds no such directive", Key(c.section, c.name))
		}
	}
	for _, d := range Directives() {
		if !rows[Key(d.Section, d.Name)] {
			t.Errorf("directive %s has no row in directiveCases", Key(d.Section, d.Name))
		}
	}
	if _, ok := LookupDirective("Socket", "ExecStart"); ok {
		t.Errorf("LookupDirective(Socket, ExecStart): got ok; want not found")
	}
}

func TestDirectives(t *testing.T) {
	def, err := build()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range directiveCases {
		t.Run(c.section+"."+c.name, func(t *testing.T) {
			u, err := build(at(c.section, c.name, c.good, 7))
			if err != nil {
				t.Fatalf("%s=%s: %v", c.name, c.good, err)
			}
			if got := c.get(u); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s=%s: got %#v; want %#v", c.name, c.good, got, c.want)
			}
			if c.section != "Unit" {
				if pos, want := u.Where[Key(c.section, c.name)], at(c.section, c.name, "", 7).Pos; pos != want {
					t.Errorf("%s=%s: Where = %+v; want %+v", c.name, c.good, pos, want)
				}
			}

			// An empty assignment resets the directive to its default.
			u, err = build(at(c.section, c.name, c.good, 7), at(c.section, c.name, "", 8))
			if err != nil {
				t.Fatalf("%s=%s, then %s=: %v", c.name, c.good, c.name, err)
			}
			want := c.get(def)
			if v, ok := emptyGives[Key(c.section, c.name)]; ok {
				want = v
			}
			if got := c.get(u); !reflect.DeepEqual(got, want) {
				t.Errorf("%s=%s, then %s=: got %#v; want the default %#v", c.name, c.good, c.name, got, want)
			}

			if c.bad == "" {
				return
			}
			_, err = build(at(c.section, c.name, c.bad, 9))
			file := testSocketFile
			if c.section == "Service" {
				file = testServiceFile
			}
			want = fmt.Sprintf("%s:9: [%s] %s: %s", file, c.section, c.name, c.reason)
			if errs := Errors(err); len(errs) != 1 || errs[0].Error() != want {
				t.Errorf("%s=%s: got error %v; want %s", c.name, c.bad, err, want)
			}
		})
	}
}

// More values of some directives.
func TestDirectiveValues(t *testing.T) {
	cases := []struct {
		section, name, value string
		get                  func(u *Unit) any
		want                 any
	}{
		// systemd still takes a boolean for BindIPv6Only=.
		{"Socket", "BindIPv6Only", "yes", func(u *Unit) any { return u.Socket.BindIPv6Only }, BindIPv6OnlyIPv6},
		{"Socket", "BindIPv6Only", "no", func(u *Unit) any { return u.Socket.BindIPv6Only }, BindIPv6Both},
		{"Socket", "BindIPv6Only", "both", func(u *Unit) any { return u.Socket.BindIPv6Only }, BindIPv6Both},
		{"Socket", "BindIPv6Only", "default", func(u *Unit) any { return u.Socket.BindIPv6Only }, BindIPv6Default},
		{"Socket", "BindToDevice", "*", func(u *Unit) any { return u.Socket.BindToDevice }, ""}, // systemd: "*" resets
		{"Socket", "IPTOS", "throughput", func(u *Unit) any { return *u.Socket.IPTOS }, 0x08},
		{"Socket", "IPTOS", "reliability", func(u *Unit) any { return *u.Socket.IPTOS }, 0x04},
		{"Socket", "IPTOS", "low-cost", func(u *Unit) any { return *u.Socket.IPTOS }, 0x02},
		{"Socket", "IPTOS", "184", func(u *Unit) any { return *u.Socket.IPTOS }, 184},
		{"Socket", "Priority", "0", func(u *Unit) any { return *u.Socket.Priority }, 0},
		{"Socket", "DeferAcceptSec", "0", func(u *Unit) any { return u.Socket.DeferAccept }, time.Duration(0)},
		{"Socket", "KeepAliveTimeSec", "1.9s", func(u *Unit) any { return u.Socket.KeepAliveTime }, time.Second}, // whole seconds
		{"Socket", "TriggerLimitIntervalSec", "0", func(u *Unit) any { return u.Socket.TriggerLimitInterval }, time.Duration(0)},
		// An endless window: once the burst is used up, every trigger
		// is refused (systemd's ratelimit never resets). Not 0, which
		// disables the limit.
		{"Socket", "TriggerLimitIntervalSec", "infinity", func(u *Unit) any { return u.Socket.TriggerLimitInterval }, time.Duration(math.MaxInt64)},
		{"Socket", "TriggerLimitBurst", "0", func(u *Unit) any { return u.Socket.TriggerLimitBurst }, 0},
		{"Service", "Type", "simple", func(u *Unit) any { return u.Service.Type }, TypeSimple},
		{"Service", "Type", "exec", func(u *Unit) any { return u.Service.Type }, TypeExec},
		{"Service", "WorkingDirectory", "~", func(u *Unit) any { return u.Service.WorkingDirectory }, "~"},
		{"Service", "WorkingDirectory", "-~", func(u *Unit) any { return u.Service.WorkingDirectoryOptional }, true},
		{"Service", "LimitNOFILE", "65536", func(u *Unit) any { return *u.Service.LimitNOFILE }, Rlimit{Soft: 65536, Hard: 65536}},
		{"Service", "LimitNOFILE", "infinity", func(u *Unit) any { return *u.Service.LimitNOFILE }, Rlimit{Soft: Infinity, Hard: Infinity}},
		{"Service", "LimitNOFILE", "1024:infinity", func(u *Unit) any { return *u.Service.LimitNOFILE }, Rlimit{Soft: 1024, Hard: Infinity}},
		{"Service", "TimeoutStopSec", "0", func(u *Unit) any { return u.Service.TimeoutStop }, time.Duration(0)},
		{"Service", "GracefulReadySec", "0", func(u *Unit) any { return u.Service.GracefulReady }, time.Duration(0)},
		{"Service", "GracefulReadySec", "1min", func(u *Unit) any { return u.Service.GracefulReady }, time.Minute},
		{"Service", "TimeoutSec", "infinity", func(u *Unit) any { return u.Service.TimeoutStop }, time.Duration(0)},
		{"Service", "KillSignal", "9", func(u *Unit) any { return u.Service.KillSignal }, syscall.SIGKILL},
		{"Service", "StandardOutput", "inherit", func(u *Unit) any { return u.Service.StandardOutput }, StdOutput{Kind: OutInherit}},
		{"Service", "StandardOutput", "journal", func(u *Unit) any { return u.Service.StandardOutput }, StdOutput{Kind: OutJournal}},
		{"Service", "StandardOutput", "append:/var/log/a", func(u *Unit) any { return u.Service.StandardOutput }, StdOutput{Kind: OutAppend, Path: "/var/log/a"}},
		{"Service", "StandardOutput", "truncate:/var/log/a", func(u *Unit) any { return u.Service.StandardOutput }, StdOutput{Kind: OutTruncate, Path: "/var/log/a"}},
		{"Service", "Restart", "always", func(u *Unit) any { return u.Service.Restart }, RestartAlways},
		{"Service", "KillMode", "process", func(u *Unit) any { return u.Service.KillMode }, KillProcess},
	}
	for _, c := range cases {
		u, err := build(at(c.section, c.name, c.value, 3))
		if err != nil {
			t.Errorf("%s=%s: %v", c.name, c.value, err)
			continue
		}
		if got := c.get(u); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s=%s: got %#v; want %#v", c.name, c.value, got, c.want)
		}
	}

	bad := []struct{ section, name, value, reason string }{
		{"Socket", "Service", "web@.service", `"web@.service" is not a service unit name`},
		{"Socket", "Service", "web", `"web" is not a service unit name`},
		// sockd: systemd also takes an instance here, loaded from the
		// template other@.service; sockd's finder does not resolve an
		// instance to its template, so the name is refused.
		{"Socket", "Service", "other@.service", `"other@.service" is not a service unit name`}, // an instance (other@x.service) is allowed, as in systemd
		{"Socket", "BindToDevice", "averyveryverylongname", `invalid interface name "averyveryverylongname"`},
		{"Socket", "KeepAliveTimeSec", "infinity", "infinity is not allowed here"},
		{"Socket", "FileDescriptorName", strings.Repeat("n", 256), "name longer than 255 characters"},
		{"Service", "Type", "bogus", `invalid value "bogus", want one of [simple exec notify forking oneshot dbus]`},
		{"Service", "StandardInput", "file:/dev/null", `invalid value "file:/dev/null", want one of [null socket]`},
		{"Service", "StandardOutput", "file:", `path "" is not absolute`},
		{"Service", "StandardOutput", "null:/x", `invalid value "null:/x", want inherit, null, journal, socket, file:PATH, append:PATH or truncate:PATH`},
		{"Service", "StandardError", "syslog", `invalid value "syslog", want inherit, null, journal, socket, file:PATH, append:PATH or truncate:PATH`},
		{"Service", "LimitNOFILE", "lots", `invalid limit "lots", want a number or infinity`},
		{"Service", "LimitNOFILE", "infinity:5", "soft limit infinity is above the hard limit 5"},
		{"Service", "Environment", "PATH", `invalid environment assignment "PATH", want NAME=VALUE`},
		{"Service", "Environment", "A-B=1", `invalid environment assignment "A-B=1", want NAME=VALUE`},
		{"Service", "GracefulReadySec", "soon", `invalid time span "soon"`},
		{"Service", "GracefulReadySec", "-1s", `invalid time span "-1s"`},
	}
	for _, c := range bad {
		_, err := build(at(c.section, c.name, c.value, 3))
		file := testSocketFile
		if c.section == "Service" {
			file = testServiceFile
		}
		want := fmt.Sprintf("%s:3: [%s] %s: %s", file, c.section, c.name, c.reason)
		if errs := Errors(err); len(errs) != 1 || errs[0].Error() != want {
			t.Errorf("%s=%s: got error %v; want %s", c.name, c.value, err, want)
		}
	}
}

func TestDirectiveInfo(t *testing.T) {
	d, ok := LookupDirective("Socket", "ListenStream")
	if !ok || d.Kind != KindAddress || !d.Repeatable() {
		t.Errorf("LookupDirective(Socket, ListenStream) = %+v, %v; want an address, repeatable", d, ok)
	}
	d, ok = LookupDirective("Socket", "Backlog")
	if !ok || d.Kind != KindInt || d.Repeatable() {
		t.Errorf("LookupDirective(Socket, Backlog) = %+v, %v; want an int, not repeatable", d, ok)
	}
	all := Directives()
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Section > b.Section || a.Section == b.Section && a.Name >= b.Name {
			t.Errorf("Directives() not sorted: %s.%s before %s.%s", a.Section, a.Name, b.Section, b.Name)
		}
	}
}
