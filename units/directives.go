package units

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// ValueKind says what syntax a directive's value has; the TOML format uses
// it to decide which TOML types a key accepts.
type ValueKind int

// The value kinds.
const (
	KindString   ValueKind = iota // free text, a path, a name or an enumerated word
	KindBool                      // a boolean
	KindInt                       // a decimal integer
	KindSize                      // a byte size with K, M, G, T suffixes
	KindTimespan                  // a time span such as "1min 30s"
	KindList                      // whitespace-separated words; repeatable
	KindCommand                   // an Exec*= command line; repeatable
	KindAddress                   // a Listen*= address; repeatable
)

// DirectiveInfo describes one directive sockd understands.
type DirectiveInfo struct {
	Section string // "Unit", "Socket" or "Service"
	Name    string // the systemd spelling, e.g. "ListenStream"
	Kind    ValueKind
}

// Repeatable reports whether the directive may be given several times,
// each adding to a list that an empty assignment resets.
func (d DirectiveInfo) Repeatable() bool {
	return d.Kind == KindList || d.Kind == KindCommand || d.Kind == KindAddress
}

type directive struct {
	DirectiveInfo
	set   setter
	reset func(u, def *Unit)
}

// resetTo returns a reset function that restores a field's default.
func resetTo[T any](get func(u *Unit) *T) func(u, def *Unit) {
	return func(u, def *Unit) { *get(u) = *get(def) }
}

func d[T any](section, name string, kind ValueKind, get func(u *Unit) *T, set setter) directive {
	return directive{DirectiveInfo{section, name, kind}, set, resetTo(get)}
}

func sock[T any](name string, kind ValueKind, get func(s *Socket) *T, set func(func(u *Unit) *T) setter) directive {
	g := func(u *Unit) *T { return get(&u.Socket) }
	return d("Socket", name, kind, g, set(g))
}

func svc[T any](name string, kind ValueKind, get func(s *Service) *T, set func(func(u *Unit) *T) setter) directive {
	g := func(u *Unit) *T { return get(&u.Service) }
	return d("Service", name, kind, g, set(g))
}

func boolSet(g func(u *Unit) *bool) setter             { return boolField(g) }
func secondsSet(g func(u *Unit) *time.Duration) setter { return secondsField(g) }
func intSet(min, max int64) func(func(u *Unit) *int) setter {
	return func(g func(u *Unit) *int) setter { return intField(g, min, max) }
}
func optIntSet(min, max int64) func(func(u *Unit) **int) setter {
	return func(g func(u *Unit) **int) setter { return optIntField(g, min, max) }
}
func durationSet(infinityOK bool) func(func(u *Unit) *time.Duration) setter {
	return func(g func(u *Unit) *time.Duration) setter { return durationField(g, infinityOK) }
}

// directiveTable returns the directive table, built on first use: sockd
// re-executes itself to spawn every service, and that path never needs it.
var directiveTable = sync.OnceValue(buildTable)

// directiveIndex maps "Section.Name" to its directive.
var directiveIndex = sync.OnceValue(func() map[string]*directive {
	t := directiveTable()
	m := make(map[string]*directive, len(t))
	for i := range t {
		m[Key(t[i].Section, t[i].Name)] = &t[i]
	}
	return m
})

func buildTable() []directive {
	t := []directive{
		{DirectiveInfo{"Unit", "Description", KindString}, nil, nil}, // handled by the Builder: it depends on the file
		{DirectiveInfo{"Unit", "Documentation", KindList}, nil, nil}, // likewise
	}
	t = append(t, socketDirectives()...)
	t = append(t, socketMoreDirectives()...)
	t = append(t, serviceDirectives()...)
	t = append(t, notifyDirectives()...)
	t = append(t, sandboxDirectives()...)
	t = append(t, execDirectives()...)
	t = append(t, conditionDirectives()...)
	return t
}

// Directives lists every directive sockd understands, sorted by section
// and name.
func Directives() []DirectiveInfo {
	out := make([]DirectiveInfo, len(directiveTable()))
	for i, d := range directiveTable() {
		out[i] = d.DirectiveInfo
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Section != out[j].Section {
			return out[i].Section < out[j].Section
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// LookupDirective returns the directive of a section by its systemd name.
func LookupDirective(section, name string) (DirectiveInfo, bool) {
	d, ok := directiveIndex()[Key(section, name)]
	if !ok {
		return DirectiveInfo{}, false
	}
	return d.DirectiveInfo, true
}

func socketDirectives() []directive {
	var t []directive
	for _, kind := range []ListenerKind{Stream, Datagram, SequentialPacket, FIFO} {
		t = append(t, listenDirective(kind))
	}
	return append(t,
		sock("Accept", KindBool, func(s *Socket) *bool { return &s.Accept }, boolSet),
		sock("Service", KindString, func(s *Socket) *string { return &s.Service }, func(g func(*Unit) *string) setter {
			return func(u *Unit, v string) error {
				n, err := ParseUnitName(v)
				if err != nil || n.Suffix != "service" || n.Template && n.Instance == "" {
					return fmt.Errorf("%q is not a service unit name", v)
				}
				*g(u) = v
				return nil
			}
		}),
		sock("FileDescriptorName", KindString, func(s *Socket) *string { return &s.FileDescriptorName }, checkedString(checkFDName)),
		sock("Backlog", KindInt, func(s *Socket) *int { return &s.Backlog }, intSet(0, 1<<31-1)),
		sock("BindIPv6Only", KindString, func(s *Socket) *BindIPv6Only { return &s.BindIPv6Only }, func(g func(*Unit) *BindIPv6Only) setter {
			enum := enumField(g, []BindIPv6Only{BindIPv6Default, BindIPv6Both, BindIPv6OnlyIPv6}, nil)
			return func(u *Unit, v string) error {
				// systemd still takes the old boolean spelling.
				if b, err := ParseBool(v); err == nil {
					*g(u) = map[bool]BindIPv6Only{true: BindIPv6OnlyIPv6, false: BindIPv6Both}[b]
					return nil
				}
				return enum(u, v)
			}
		}),
		sock("BindToDevice", KindString, func(s *Socket) *string { return &s.BindToDevice }, func(g func(*Unit) *string) setter {
			check := checkedString(checkIfName)(g)
			return func(u *Unit, v string) error {
				if v == "*" { // systemd: "*" is the same as an empty assignment
					*g(u) = ""
					return nil
				}
				return check(u, v)
			}
		}),
		sock("SocketUser", KindString, func(s *Socket) *string { return &s.SocketUser }, checkedString(checkUserName)),
		sock("SocketGroup", KindString, func(s *Socket) *string { return &s.SocketGroup }, checkedString(checkUserName)),
		sock("SocketMode", KindString, func(s *Socket) *os.FileMode { return &s.SocketMode }, modeField),
		sock("DirectoryMode", KindString, func(s *Socket) *os.FileMode { return &s.DirectoryMode }, modeField),
		sock("FreeBind", KindBool, func(s *Socket) *bool { return &s.FreeBind }, boolSet),
		sock("Transparent", KindBool, func(s *Socket) *bool { return &s.Transparent }, boolSet),
		sock("ReusePort", KindBool, func(s *Socket) *bool { return &s.ReusePort }, boolSet),
		sock("Broadcast", KindBool, func(s *Socket) *bool { return &s.Broadcast }, boolSet),
		sock("KeepAlive", KindBool, func(s *Socket) *bool { return &s.KeepAlive }, boolSet),
		sock("KeepAliveTimeSec", KindTimespan, func(s *Socket) *time.Duration { return &s.KeepAliveTime }, secondsSet),
		sock("KeepAliveIntervalSec", KindTimespan, func(s *Socket) *time.Duration { return &s.KeepAliveInterval }, secondsSet),
		sock("KeepAliveProbes", KindInt, func(s *Socket) *int { return &s.KeepAliveProbes }, intSet(1, 127)),
		sock("NoDelay", KindBool, func(s *Socket) *bool { return &s.NoDelay }, boolSet),
		sock("DeferAcceptSec", KindTimespan, func(s *Socket) *time.Duration { return &s.DeferAccept }, secondsSet),
		sock("Priority", KindInt, func(s *Socket) **int { return &s.Priority }, optIntSet(0, 6)),
		sock("ReceiveBuffer", KindSize, func(s *Socket) *int64 { return &s.ReceiveBuffer }, sizeSet),
		sock("SendBuffer", KindSize, func(s *Socket) *int64 { return &s.SendBuffer }, sizeSet),
		sock("IPTOS", KindString, func(s *Socket) **int { return &s.IPTOS }, ipTOSSet),
		sock("IPTTL", KindInt, func(s *Socket) **int { return &s.IPTTL }, optIntSet(1, 255)),
		sock("Mark", KindInt, func(s *Socket) **int { return &s.Mark }, optIntSet(0, 1<<32-1)),
		sock("PassCredentials", KindBool, func(s *Socket) *bool { return &s.PassCredentials }, boolSet),
		sock("PassPacketInfo", KindBool, func(s *Socket) *bool { return &s.PassPacketInfo }, boolSet),
		sock("MaxConnections", KindInt, func(s *Socket) *int { return &s.MaxConnections }, intSet(1, 1<<31-1)),
		sock("MaxConnectionsPerSource", KindInt, func(s *Socket) *int { return &s.MaxConnectionsPerSource }, intSet(0, 1<<31-1)),
		sock("RemoveOnStop", KindBool, func(s *Socket) *bool { return &s.RemoveOnStop }, boolSet),
		sock("Symlinks", KindList, func(s *Socket) *[]string { return &s.Symlinks }, wordsSet(checkAbsolute)),
		sock("TriggerLimitIntervalSec", KindTimespan, func(s *Socket) *time.Duration { return &s.TriggerLimitInterval }, triggerIntervalSet),
		sock("TriggerLimitBurst", KindInt, func(s *Socket) *int { return &s.TriggerLimitBurst }, intSet(0, 1<<31-1)),
	)
}

func sizeSet(g func(u *Unit) *int64) setter { return sizeField(g, 1<<31-1) }

// triggerIntervalSet parses TriggerLimitIntervalSec=. 0 disables the
// limit; "infinity" is a window that never ends (systemd's ratelimit
// never resets, so once the burst is used up every trigger is refused),
// stored as the longest time.Duration, not as 0.
func triggerIntervalSet(g func(u *Unit) *time.Duration) setter {
	return func(u *Unit, v string) error {
		d, err := ParseTimespan(v)
		if errors.Is(err, ErrInfinity) {
			d, err = math.MaxInt64, nil
		}
		if err != nil {
			return err
		}
		*g(u) = d
		return nil
	}
}

func wordsSet(check func(string) error) func(func(u *Unit) *[]string) setter {
	return func(g func(u *Unit) *[]string) setter { return wordsField(g, check) }
}

func checkedString(check func(string) error) func(func(u *Unit) *string) setter {
	return func(g func(u *Unit) *string) setter {
		return func(u *Unit, v string) error {
			if err := check(v); err != nil {
				return err
			}
			*g(u) = v
			return nil
		}
	}
}

var ipTOSNames = map[string]int{"low-delay": 0x10, "throughput": 0x08, "reliability": 0x04, "low-cost": 0x02}

func ipTOSSet(g func(u *Unit) **int) setter {
	num := optIntField(g, 0, 255)
	return func(u *Unit, v string) error {
		if n, ok := ipTOSNames[v]; ok {
			*g(u) = &n
			return nil
		}
		if err := num(u, v); err != nil {
			return fmt.Errorf("invalid value %q, want 0…255 or low-delay, throughput, reliability, low-cost", v)
		}
		return nil
	}
}

// listenDirective parses one Listen*= address and appends it.
func listenDirective(kind ListenerKind) directive {
	return directive{
		DirectiveInfo: DirectiveInfo{"Socket", kind.Directive(), KindAddress},
		set: func(u *Unit, v string) error {
			a, err := ParseAddress(kind, v)
			if err != nil {
				return err
			}
			u.Socket.Listeners = append(u.Socket.Listeners, Listener{Kind: kind, Address: a})
			return nil
		},
		// An empty Listen*= resets every listener, whatever its kind.
		reset: func(u, _ *Unit) { u.Socket.Listeners = nil },
	}
}

func checkFDName(s string) error {
	if len(s) > 255 {
		return fmt.Errorf("name longer than 255 characters")
	}
	if !ValidFDName(s) {
		return fmt.Errorf("name %q has a character that is not printable ASCII or is ':'", s)
	}
	return nil
}

// checkIfName accepts a network interface name as systemd's ifname_valid
// does: 1 to 15 printable ASCII characters other than ':', '/' and '%',
// and not "." or "..".
func checkIfName(s string) error {
	bad := s == "" || len(s) > 15 || s == "." || s == ".."
	for i := 0; i < len(s) && !bad; i++ {
		bad = s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':' || s[i] == '/' || s[i] == '%'
	}
	if bad {
		return fmt.Errorf("invalid interface name %q", s)
	}
	return nil
}

func checkAbsolute(s string) error {
	if !strings.HasPrefix(s, "/") {
		return fmt.Errorf("path %q is not absolute", s)
	}
	return nil
}
