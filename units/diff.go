package units

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// Change says what changed in a unit present before and after a reload.
// A Change with none of its flags set means that only descriptive
// settings changed ([Unit] Description= or Documentation= of the socket
// or the service): the new unit replaces the old one, so that status
// shows the new text, but nothing is rebound and the service keeps
// running.
type Change struct {
	Name string
	// Listeners is true when a listener was added, removed or changed, or
	// an option applied when binding changed: the listeners must be rebound.
	Listeners bool
	// Activation is true when settings of the socket that are not bound
	// into the listeners changed (Accept, MaxConnections, trigger limits,
	// fd names, …).
	Activation bool
	// Service is true when the service section changed, descriptive
	// settings aside.
	Service bool
}

// DiffResult is what Diff found, each list sorted by unit name.
type DiffResult struct {
	Added   []string
	Removed []string
	Changed []Change
}

// Empty reports whether nothing changed.
func (d DiffResult) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// Diff compares two unit sets by name.
func Diff(old, new []*Unit) DiffResult {
	var r DiffResult
	oldByName, newByName := byName(old), byName(new)
	for _, u := range sortedByName(new) {
		o, ok := oldByName[u.Name]
		if !ok {
			r.Added = append(r.Added, u.Name)
			continue
		}
		if Equal(o, u) {
			continue
		}
		r.Changed = append(r.Changed, Change{
			Name:       u.Name,
			Listeners:  !reflect.DeepEqual(bindSettings(&o.Socket), bindSettings(&u.Socket)),
			Activation: !reflect.DeepEqual(activationSettings(&o.Socket), activationSettings(&u.Socket)),
			Service:    !reflect.DeepEqual(serviceSettings(o.Service), serviceSettings(u.Service)),
		})
	}
	for _, u := range sortedByName(old) {
		if _, ok := newByName[u.Name]; !ok {
			r.Removed = append(r.Removed, u.Name)
		}
	}
	return r
}

// Equal reports whether two units mean the same: everything but Files and
// Where, which only say where the settings came from.
func Equal(a, b *Unit) bool {
	x, y := *a, *b
	x.Files, y.Files, x.Where, y.Where = nil, nil, nil, nil
	return reflect.DeepEqual(x, y)
}

// bindSettings returns the socket settings that are bound into the
// listening sockets: everything but the activation settings and the
// description.
func bindSettings(s *Socket) Socket {
	b := *s
	b.Description, b.Documentation = "", nil
	b.Accept, b.Service, b.FileDescriptorName = false, "", ""
	b.MaxConnections, b.MaxConnectionsPerSource = 0, 0
	b.TriggerLimitInterval, b.TriggerLimitBurst = 0, 0
	b.Helpers = SocketHelpers{}
	return b
}

// serviceSettings returns the service without its description, which
// does not need the service restarted.
func serviceSettings(s Service) Service {
	s.Description, s.Documentation = "", nil
	return s
}

func activationSettings(s *Socket) [8]any {
	return [8]any{s.Accept, s.Service, s.FileDescriptorName, s.MaxConnections,
		s.MaxConnectionsPerSource, s.TriggerLimitInterval, s.TriggerLimitBurst, s.Helpers}
}

// Fingerprint identifies a listener together with every option bound into
// it; two listeners with the same fingerprint can share one socket, so a
// reload or a handoff keeps the fd when the fingerprint is unchanged.
func Fingerprint(l Listener, s *Socket) string {
	b := bindSettings(s)
	b.Listeners = nil
	opts, _ := json.Marshal(b) // plain data: cannot fail
	return fmt.Sprintf("%s %s %s", l.Kind, l.Address, opts)
}

func byName(us []*Unit) map[string]*Unit {
	m := make(map[string]*Unit, len(us))
	for _, u := range us {
		m[u.Name] = u
	}
	return m
}

func sortedByName(us []*Unit) []*Unit {
	out := append([]*Unit(nil), us...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
