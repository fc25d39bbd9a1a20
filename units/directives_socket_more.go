package units

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// SocketExtra holds the [Socket] settings of systemd.socket(5) that are
// bound into the listeners and that the first version of sockd did not
// have: the options of the other listener kinds and the rarer socket
// options. Like the fields of Socket, a change to them rebinds.
type SocketExtra struct {
	Writable                bool   // Writable=: open ListenSpecial= read-write
	MessageQueueMaxMessages int64  // MessageQueueMaxMessages=; 0 leaves the kernel default
	MessageQueueMessageSize int64  // MessageQueueMessageSize=; 0 leaves the kernel default
	PipeSize                int64  // PipeSize= (F_SETPIPE_SZ on a FIFO); 0 leaves it
	PassSecurity            bool   // PassSecurity= (SO_PASSSEC)
	Timestamping            string // Timestamping=: "off" (the default, ""), "us" or "ns"
	Protocol                string // SocketProtocol=: "", "udplite", "sctp" or "mptcp"
	// SELinuxContextFromNet and SmackLabel* are accepted and recorded: they
	// act only with the LSM, and sockd applies no LSM labels (see
	// docs/units.md).
	SELinuxContextFromNet bool
	SmackLabel            string
	SmackLabelIPIn        string
	SmackLabelIPOut       string
}

// SocketHelpers holds the [Socket] settings that act around the listeners
// rather than in them: a change to them does not rebind.
type SocketHelpers struct {
	// ExecStartPre= runs before the listeners are made, ExecStartPost=
	// after; ExecStopPre= before they are closed, ExecStopPost= after.
	// They run as sockd's user, one after another, each within Timeout.
	ExecStartPre  []Command
	ExecStartPost []Command
	ExecStopPre   []Command
	ExecStopPost  []Command
	Timeout       time.Duration // TimeoutSec=; default 90s, 0 is infinity
	// FlushPending is FlushPending=: when an Accept=no unit goes back to
	// listening, the connections and datagrams queued are discarded.
	FlushPending bool
	// PollLimitInterval and PollLimitBurst are PollLimitIntervalSec= and
	// PollLimitBurst= (systemd 255): past Burst wake-ups of the unit in
	// Interval, sockd stops watching its listeners for the rest of the
	// interval, then watches them again. PollLimitBurst nil is the
	// default: 15, or 150 with Accept=yes (EffectivePollLimitBurst).
	PollLimitInterval time.Duration
	PollLimitBurst    *int
}

// Default values of the helpers.
const (
	DefaultPollLimit = 2 * time.Second
)

// EffectivePollLimitBurst returns PollLimitBurst=, or systemd's default
// for the unit: 15, or 150 with Accept=yes. 0 disables the limit.
func (s *Socket) EffectivePollLimitBurst() int {
	if s.Helpers.PollLimitBurst != nil {
		return *s.Helpers.PollLimitBurst
	}
	if s.Accept {
		return 150
	}
	return 15
}

// socketMoreDirectives are the directives of SocketExtra and
// SocketHelpers, and the Listen*= of the other listener kinds.
func socketMoreDirectives() []directive {
	t := []directive{
		listenDirective(Netlink), listenDirective(Special),
		listenDirective(MessageQueue), listenDirective(USBFunction),
	}
	x := func(name string, kind ValueKind, get func(x *SocketExtra) *bool) directive {
		return sock(name, kind, func(s *Socket) *bool { return get(&s.Extra) }, boolSet)
	}
	str := func(name string, get func(x *SocketExtra) *string, set func(func(*Unit) *string) setter) directive {
		return sock(name, KindString, func(s *Socket) *string { return get(&s.Extra) }, set)
	}
	size := func(name string, get func(x *SocketExtra) *int64) directive {
		return sock(name, KindSize, func(s *Socket) *int64 { return get(&s.Extra) }, sizeSet)
	}
	anyString := checkedString(func(string) error { return nil })
	t = append(t,
		x("Writable", KindBool, func(x *SocketExtra) *bool { return &x.Writable }),
		x("PassSecurity", KindBool, func(x *SocketExtra) *bool { return &x.PassSecurity }),
		x("SELinuxContextFromNet", KindBool, func(x *SocketExtra) *bool { return &x.SELinuxContextFromNet }),
		sock("MessageQueueMaxMessages", KindInt, func(s *Socket) *int64 { return &s.Extra.MessageQueueMaxMessages }, int64Set(1, math.MaxInt32)),
		sock("MessageQueueMessageSize", KindInt, func(s *Socket) *int64 { return &s.Extra.MessageQueueMessageSize }, int64Set(1, math.MaxInt32)),
		size("PipeSize", func(x *SocketExtra) *int64 { return &x.PipeSize }),
		str("Timestamping", func(x *SocketExtra) *string { return &x.Timestamping }, timestampingSet),
		str("SocketProtocol", func(x *SocketExtra) *string { return &x.Protocol }, protocolSet),
		str("SmackLabel", func(x *SocketExtra) *string { return &x.SmackLabel }, anyString),
		str("SmackLabelIPIn", func(x *SocketExtra) *string { return &x.SmackLabelIPIn }, anyString),
		str("SmackLabelIPOut", func(x *SocketExtra) *string { return &x.SmackLabelIPOut }, anyString),
	)
	for _, name := range socketCommandDirectives {
		t = append(t, socketCommandDirective(name))
	}
	return append(t,
		sock("TimeoutSec", KindTimespan, func(s *Socket) *time.Duration { return &s.Helpers.Timeout }, durationSet(true)),
		sock("FlushPending", KindBool, func(s *Socket) *bool { return &s.Helpers.FlushPending }, boolSet),
		sock("PollLimitIntervalSec", KindTimespan, func(s *Socket) *time.Duration { return &s.Helpers.PollLimitInterval }, durationSet(false)),
		sock("PollLimitBurst", KindInt, func(s *Socket) **int { return &s.Helpers.PollLimitBurst }, optIntSet(0, math.MaxInt32)),
	)
}

// socketCommandDirectives are the Exec*= directives of [Socket].
var socketCommandDirectives = []string{"ExecStartPre", "ExecStartPost", "ExecStopPre", "ExecStopPost"}

func socketCommandDirective(name string) directive {
	g := func(u *Unit) *[]Command { return socketCommands(&u.Socket, name) }
	return d("Socket", name, KindCommand, g, func(u *Unit, v string) error {
		cmds, err := ParseCommands(v)
		if err != nil {
			return err
		}
		*g(u) = append(*g(u), cmds...)
		return nil
	})
}

// socketCommands returns the command list of a [Socket] Exec*= directive.
func socketCommands(s *Socket, name string) *[]Command {
	switch name {
	case "ExecStartPre":
		return &s.Helpers.ExecStartPre
	case "ExecStartPost":
		return &s.Helpers.ExecStartPost
	case "ExecStopPre":
		return &s.Helpers.ExecStopPre
	case "ExecStopPost":
		return &s.Helpers.ExecStopPost
	}
	panic("units: not a [Socket] command directive: " + name)
}

// unitCommands returns the command list of an Exec*= directive of either
// section.
func unitCommands(u *Unit, section, name string) *[]Command {
	if section == "Socket" {
		return socketCommands(&u.Socket, name)
	}
	return commandsOf(&u.Service, name)
}

func int64Set(min, max int64) func(func(u *Unit) *int64) setter {
	return func(g func(u *Unit) *int64) setter {
		return func(u *Unit, v string) error {
			n, err := parseIntRange(v, min, max)
			if err != nil {
				return err
			}
			*g(u) = n
			return nil
		}
	}
}

// timestampingSet parses Timestamping= as systemd does: off, us (usec,
// µs) or ns (nsec), or a boolean (yes is us).
func timestampingSet(g func(u *Unit) *string) setter {
	return func(u *Unit, v string) error {
		switch v {
		case "off":
			*g(u) = ""
		case "us", "usec", "µs":
			*g(u) = "us"
		case "ns", "nsec":
			*g(u) = "ns"
		default:
			b, err := ParseBool(v)
			if err != nil {
				return fmt.Errorf("invalid value %q, want off, us or ns", v)
			}
			*g(u) = map[bool]string{true: "us", false: ""}[b]
		}
		return nil
	}
}

// protocolSet parses SocketProtocol=.
func protocolSet(g func(u *Unit) *string) setter {
	return func(u *Unit, v string) error {
		switch v {
		case "udplite", "sctp", "mptcp":
			*g(u) = v
			return nil
		}
		return fmt.Errorf("invalid value %q, want udplite, sctp or mptcp", v)
	}
}

// socketMoreErrors checks the rules of SocketExtra that span directives,
// as systemd's socket_verify does.
func socketMoreErrors(u *Unit) ErrorList {
	var errs ErrorList
	s := &u.Socket
	at := func(directive string) Position { return positionOf(u, "Socket", directive) }
	if (s.Extra.MessageQueueMaxMessages == 0) != (s.Extra.MessageQueueMessageSize == 0) {
		errs = append(errs, Errorf(at("MessageQueueMaxMessages"), "MessageQueueMaxMessages= and MessageQueueMessageSize= must be set together"))
	}
	for i, l := range s.Listeners {
		switch p := s.Extra.Protocol; {
		case p == "udplite" && !(l.Kind == Datagram && isIP(l.Address)):
			errs = append(errs, Errorf(listenerPos(u, i), "SocketProtocol=udplite needs ListenDatagram= on an IP address, not %s=%s", l.Kind.Directive(), l.Address))
		case (p == "sctp" || p == "mptcp") && !((l.Kind == Stream || l.Kind == SequentialPacket && p == "sctp") && isIP(l.Address)):
			errs = append(errs, Errorf(listenerPos(u, i), "SocketProtocol=%s needs ListenStream= on an IP address, not %s=%s", p, l.Kind.Directive(), l.Address))
		}
	}
	return errs
}

func isIP(a Address) bool { return a.Family == FamilyInet || a.Family == FamilyInet6 }

// socketHostErrors checks that the programs of [Socket] Exec*= exist.
func socketHostErrors(u *Unit) ErrorList {
	var errs ErrorList
	for _, name := range socketCommandDirectives {
		for i, c := range *socketCommands(&u.Socket, name) {
			if c.IgnoreFailure || strings.Contains(c.Path, "%") {
				continue
			}
			if _, err := LookPath(c.Path); err != nil {
				pos, ok := u.Where[ElemKey("Socket", name, i)]
				if !ok {
					pos = positionOf(u, "Socket", name)
				}
				errs = append(errs, &Error{Pos: pos, Err: err})
			}
		}
	}
	return errs
}
