package units

import (
	"testing"
	"time"
)

// One row per directive of directives_socket_more.go, with the exact
// message `sockd --check` prints for a bad value.
func init() {
	directiveCases = append(directiveCases,
		directiveCase{"Socket", "ListenNetlink", "kobject-uevent 1", func(u *Unit) any { return u.Socket.Listeners },
			[]Listener{{Netlink, Address{Family: FamilyNetlink, Path: "kobject-uevent", Port: 1}}},
			"nosuch 1", `unknown netlink family "nosuch"`},
		directiveCase{"Socket", "ListenSpecial", "/dev/rfkill", func(u *Unit) any { return u.Socket.Listeners },
			[]Listener{{Special, Address{Family: FamilySpecial, Path: "/dev/rfkill"}}},
			"dev/rfkill", `path "dev/rfkill" is not absolute`},
		directiveCase{"Socket", "ListenMessageQueue", "/web", func(u *Unit) any { return u.Socket.Listeners },
			[]Listener{{MessageQueue, Address{Family: FamilyMQueue, Path: "/web"}}},
			"/a/b", `message queue name "/a/b" is not "/name" (one leading slash, 1 to 254 more characters)`},
		directiveCase{"Socket", "ListenUSBFunction", "/dev/usb-ffs/web", func(u *Unit) any { return u.Socket.Listeners },
			[]Listener{{USBFunction, Address{Family: FamilyUSB, Path: "/dev/usb-ffs/web"}}},
			"usb", `path "usb" is not absolute`},
		directiveCase{"Socket", "Writable", "yes", func(u *Unit) any { return u.Socket.Extra.Writable }, true, "rw", `invalid boolean "rw"`},
		directiveCase{"Socket", "PassSecurity", "yes", func(u *Unit) any { return u.Socket.Extra.PassSecurity }, true, "2", `invalid boolean "2"`},
		directiveCase{"Socket", "SELinuxContextFromNet", "yes", func(u *Unit) any { return u.Socket.Extra.SELinuxContextFromNet }, true, "x", `invalid boolean "x"`},
		directiveCase{"Socket", "MessageQueueMaxMessages", "10", func(u *Unit) any { return u.Socket.Extra.MessageQueueMaxMessages }, int64(10),
			"0", "0 out of range 1…2147483647"},
		directiveCase{"Socket", "MessageQueueMessageSize", "8192", func(u *Unit) any { return u.Socket.Extra.MessageQueueMessageSize }, int64(8192),
			"-5", "-5 out of range 1…2147483647"},
		directiveCase{"Socket", "PipeSize", "1M", func(u *Unit) any { return u.Socket.Extra.PipeSize }, int64(1 << 20),
			"0", "size 0 out of range 1…2147483647"},
		directiveCase{"Socket", "Timestamping", "nsec", func(u *Unit) any { return u.Socket.Extra.Timestamping }, "ns",
			"ms", `invalid value "ms", want off, us or ns`},
		directiveCase{"Socket", "SocketProtocol", "udplite", func(u *Unit) any { return u.Socket.Extra.Protocol }, "udplite",
			"tcp", `invalid value "tcp", want udplite, sctp or mptcp`},
		directiveCase{"Socket", "SmackLabel", "web", func(u *Unit) any { return u.Socket.Extra.SmackLabel }, "web", "", ""},
		directiveCase{"Socket", "SmackLabelIPIn", "in", func(u *Unit) any { return u.Socket.Extra.SmackLabelIPIn }, "in", "", ""},
		directiveCase{"Socket", "SmackLabelIPOut", "out", func(u *Unit) any { return u.Socket.Extra.SmackLabelIPOut }, "out", "", ""},
		directiveCase{"Socket", "ExecStartPre", "-/bin/mkdir -p /run/web", func(u *Unit) any { return u.Socket.Helpers.ExecStartPre },
			[]Command{{Path: "/bin/mkdir", Argv: []string{"/bin/mkdir", "-p", "/run/web"}, IgnoreFailure: true}},
			`/bin/true "x`, `unbalanced quoting: "\"x"`},
		directiveCase{"Socket", "ExecStartPost", "/bin/true", func(u *Unit) any { return u.Socket.Helpers.ExecStartPost },
			[]Command{{Path: "/bin/true", Argv: []string{"/bin/true"}}}, "", ""},
		directiveCase{"Socket", "ExecStopPre", "/bin/true", func(u *Unit) any { return u.Socket.Helpers.ExecStopPre },
			[]Command{{Path: "/bin/true", Argv: []string{"/bin/true"}}}, "", ""},
		directiveCase{"Socket", "ExecStopPost", "/bin/true %n", func(u *Unit) any { return u.Socket.Helpers.ExecStopPost },
			[]Command{{Path: "/bin/true", Argv: []string{"/bin/true", "web.socket"}}}, "", ""},
		directiveCase{"Socket", "TimeoutSec", "5s", func(u *Unit) any { return u.Socket.Helpers.Timeout }, 5 * time.Second,
			"5 parsecs", `invalid time span "5 parsecs"`},
		directiveCase{"Socket", "FlushPending", "yes", func(u *Unit) any { return u.Socket.Helpers.FlushPending }, true, "y3s", `invalid boolean "y3s"`},
		directiveCase{"Socket", "PollLimitIntervalSec", "1s", func(u *Unit) any { return u.Socket.Helpers.PollLimitInterval }, time.Second,
			"infinity", "infinity is not allowed here"},
		directiveCase{"Socket", "PollLimitBurst", "3", func(u *Unit) any { return u.Socket.Helpers.PollLimitBurst }, ptr(3),
			"-1", "-1 out of range 0…2147483647"},
	)
}

func TestSocketMoreValues(t *testing.T) {
	for _, c := range []struct {
		name, value string
		get         func(u *Unit) any
		want        any
	}{
		{"ListenNetlink", "route", func(u *Unit) any { return u.Socket.Listeners[0].Address.String() }, "route 0"},
		{"ListenNetlink", "9 4294967295", func(u *Unit) any { return u.Socket.Listeners[0].Address.String() }, "9 4294967295"},
		{"Timestamping", "off", func(u *Unit) any { return u.Socket.Extra.Timestamping }, ""},
		{"Timestamping", "yes", func(u *Unit) any { return u.Socket.Extra.Timestamping }, "us"},
		{"Timestamping", "µs", func(u *Unit) any { return u.Socket.Extra.Timestamping }, "us"},
		{"TimeoutSec", "infinity", func(u *Unit) any { return u.Socket.Helpers.Timeout }, time.Duration(0)},
		{"Accept", "yes", func(u *Unit) any { return u.Socket.EffectivePollLimitBurst() }, 150},
		{"Accept", "no", func(u *Unit) any { return u.Socket.EffectivePollLimitBurst() }, 15},
	} {
		u, err := build(at("Socket", c.name, c.value, 3))
		if err != nil {
			t.Errorf("%s=%s: %v", c.name, c.value, err)
			continue
		}
		if got := c.get(u); got != c.want {
			t.Errorf("%s=%s: got %v; want %v", c.name, c.value, got, c.want)
		}
	}
}

func TestSocketMoreRules(t *testing.T) {
	for _, c := range []struct {
		lines []Assignment
		want  string
	}{
		{[]Assignment{at("Socket", "ListenMessageQueue", "/q", 2), at("Socket", "MessageQueueMaxMessages", "4", 3)},
			testSocketFile + ":3: [Socket] MessageQueueMaxMessages: MessageQueueMaxMessages= and MessageQueueMessageSize= must be set together"},
		{[]Assignment{at("Socket", "ListenStream", "127.0.0.1:80", 2), at("Socket", "SocketProtocol", "udplite", 3)},
			testSocketFile + ":2: [Socket] ListenStream: SocketProtocol=udplite needs ListenDatagram= on an IP address, not ListenStream=127.0.0.1:80"},
		{[]Assignment{at("Socket", "ListenStream", "/run/x.sock", 2), at("Socket", "SocketProtocol", "sctp", 3)},
			testSocketFile + ":2: [Socket] ListenStream: SocketProtocol=sctp needs ListenStream= on an IP address, not ListenStream=/run/x.sock"},
		{[]Assignment{at("Socket", "ListenNetlink", "route 1", 2), at("Socket", "Accept", "yes", 3)},
			testSocketFile + ":2: [Socket] ListenNetlink: Accept=yes needs listeners that accept connections, ListenNetlink does not"},
		{[]Assignment{at("Socket", "ListenStream", "/run/x.sock", 2), at("Socket", "ExecStartPre", "/nonexistent/prog", 4)},
			testSocketFile + `:4: [Socket] ExecStartPre: program /nonexistent/prog: no such file or directory`},
	} {
		u, err := build(append(c.lines, at("Service", "ExecStart", "/bin/true", 1))...)
		if err == nil {
			err = Validate(u)
		}
		errs := Errors(err)
		if len(errs) != 1 || errs[0].Error() != c.want {
			t.Errorf("got %v; want %s", err, c.want)
		}
	}
}

// FuzzParseMoreAddress checks that every address the new Listen*= kinds
// accept prints as a value that parses back to the same address.
func FuzzParseMoreAddress(f *testing.F) {
	for _, s := range []string{"route 1", "kobject-uevent 1", "15", "audit 0 1", "/dev/rfkill", "/q", "//", "/dev/usb-ffs/x"} {
		f.Add(uint8(0), s)
	}
	kinds := []ListenerKind{Netlink, Special, MessageQueue, USBFunction}
	f.Fuzz(func(t *testing.T, k uint8, s string) {
		kind := kinds[int(k)%len(kinds)]
		a, err := ParseAddress(kind, s)
		if err != nil {
			return
		}
		b, err := ParseAddress(kind, a.String())
		if err != nil || b != a {
			t.Errorf("ParseAddress(%s, %q) = %+v; its String %q parses to %+v, %v", kind, s, a, a.String(), b, err)
		}
	})
}
