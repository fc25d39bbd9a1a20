package units

import (
	"reflect"
	"testing"
	"time"
)

// diffUnit builds a fresh, complete unit named name.
func diffUnit(t *testing.T, name string) *Unit {
	t.Helper()
	b := NewBuilder(name, testEnv)
	b.AddFile("/etc/sockd/units/" + name + ".socket")
	for _, a := range []Assignment{
		at("Unit", "Description", "socket "+name, 1),
		at("Socket", "ListenStream", "127.0.0.1:8080", 2),
		at("Socket", "ListenStream", "/run/"+name+".sock", 3),
	} {
		b.Apply(name+".socket", a)
	}
	for _, a := range []Assignment{
		at("Unit", "Description", "service "+name, 1),
		at("Service", "ExecStart", "/bin/true", 2),
	} {
		b.Apply(name+".service", a)
	}
	u, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDiff(t *testing.T) {
	cases := []struct {
		name   string
		change func(u *Unit)
		want   []Change // for unit "b"
	}{
		{"nothing", func(u *Unit) {}, nil},
		{"only where the settings came from", func(u *Unit) {
			u.Files = append(u.Files, "/etc/sockd/units/b.socket.d/x.conf")
			u.Where[Key("Socket", "Backlog")] = Position{File: "x", Line: 1}
		}, nil},
		{"Backlog", func(u *Unit) { u.Socket.Backlog = 10 }, []Change{{Name: "b", Listeners: true}}},
		{"a listener's address", func(u *Unit) { u.Socket.Listeners[0].Address.Port = 8081 }, []Change{{Name: "b", Listeners: true}}},
		{"a listener added", func(u *Unit) {
			u.Socket.Listeners = append(u.Socket.Listeners, Listener{Kind: FIFO, Address: Address{Family: FamilyFIFO, Path: "/run/f"}})
		}, []Change{{Name: "b", Listeners: true}}},
		{"ReusePort", func(u *Unit) { u.Socket.ReusePort = true }, []Change{{Name: "b", Listeners: true}}},
		{"Priority", func(u *Unit) { u.Socket.Priority = ptr(3) }, []Change{{Name: "b", Listeners: true}}},
		{"MaxConnections", func(u *Unit) { u.Socket.MaxConnections = 5 }, []Change{{Name: "b", Activation: true}}},
		{"TriggerLimitBurst", func(u *Unit) { u.Socket.TriggerLimitBurst = 1 }, []Change{{Name: "b", Activation: true}}},
		{"FileDescriptorName", func(u *Unit) { u.Socket.FileDescriptorName = "x" }, []Change{{Name: "b", Activation: true}}},
		{"Accept", func(u *Unit) {
			u.Socket.Accept, u.Service.Name = true, "b@.service"
		}, []Change{{Name: "b", Activation: true, Service: true}}},
		{"ExecStart", func(u *Unit) { u.Service.ExecStart[0].Argv = append(u.Service.ExecStart[0].Argv, "-v") }, []Change{{Name: "b", Service: true}}},
		{"Environment", func(u *Unit) { u.Service.Environment = []string{"A=1"} }, []Change{{Name: "b", Service: true}}},
		{"TimeoutStopSec", func(u *Unit) { u.Service.TimeoutStop = time.Second }, []Change{{Name: "b", Service: true}}},
		{"socket and service", func(u *Unit) { u.Socket.Backlog, u.Service.User = 1, "nobody" }, []Change{{Name: "b", Listeners: true, Service: true}}},
		// A change of description alone is a change with no flag set:
		// the new unit replaces the old one (status shows the new text),
		// nothing is rebound and the service is not restarted.
		{"the socket's Description", func(u *Unit) { u.Socket.Description = "new" }, []Change{{Name: "b"}}},
		{"the socket's Documentation", func(u *Unit) { u.Socket.Documentation = []string{"man:b(8)"} }, []Change{{Name: "b"}}},
		{"the service's Description", func(u *Unit) { u.Service.Description = "new" }, []Change{{Name: "b"}}},
		{"the service's Description and Backlog", func(u *Unit) { u.Service.Description, u.Socket.Backlog = "new", 1 }, []Change{{Name: "b", Listeners: true}}},
	}
	for _, c := range cases {
		old := []*Unit{diffUnit(t, "a"), diffUnit(t, "b"), diffUnit(t, "c")}
		nu := []*Unit{diffUnit(t, "c"), diffUnit(t, "b"), diffUnit(t, "a")}
		c.change(nu[1])
		got := Diff(old, nu)
		want := DiffResult{Changed: c.want}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Diff = %+v; want %+v", c.name, got, want)
		}
		if got.Empty() != (len(c.want) == 0) {
			t.Errorf("%s: Empty() = %v; want %v", c.name, got.Empty(), len(c.want) == 0)
		}
		if Equal(old[1], nu[1]) != (len(c.want) == 0) {
			t.Errorf("%s: Equal = %v; want %v", c.name, Equal(old[1], nu[1]), len(c.want) == 0)
		}
	}

	old := []*Unit{diffUnit(t, "d"), diffUnit(t, "a"), diffUnit(t, "b")}
	nu := []*Unit{diffUnit(t, "e"), diffUnit(t, "b"), diffUnit(t, "c"), diffUnit(t, "a")}
	nu[1].Socket.Backlog, nu[3].Service.User = 1, "nobody"
	got := Diff(old, nu)
	want := DiffResult{
		Added:   []string{"c", "e"},
		Removed: []string{"d"},
		Changed: []Change{{Name: "a", Service: true}, {Name: "b", Listeners: true}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %+v; want %+v", got, want)
	}
	if got := Diff(nil, nil); !got.Empty() {
		t.Errorf("Diff(nil, nil) = %+v; want empty", got)
	}
}

// activationFields are the Socket fields that are not bound into a
// listening socket: changing one never changes a Fingerprint.
var activationFields = map[string]bool{
	"Description": true, "Documentation": true, "Listeners": true,
	"Accept": true, "Service": true, "FileDescriptorName": true,
	"MaxConnections": true, "MaxConnectionsPerSource": true,
	"TriggerLimitInterval": true, "TriggerLimitBurst": true, "Helpers": true,
}

func TestFingerprint(t *testing.T) {
	u := diffUnit(t, "a")
	l0, l1 := u.Socket.Listeners[0], u.Socket.Listeners[1]
	fp := Fingerprint(l0, &u.Socket)
	if again := Fingerprint(l0, &diffUnit(t, "b").Socket); again != fp {
		t.Errorf("Fingerprint of the same listener with equal options:\n\t%s\n\t%s; want them equal", fp, again)
	}
	if Fingerprint(l1, &u.Socket) == fp {
		t.Errorf("two listeners of a unit have the same fingerprint %s", fp)
	}
	other := l0
	other.Kind = Datagram
	if Fingerprint(other, &u.Socket) == fp {
		t.Errorf("a stream and a datagram listener on one address have the same fingerprint %s", fp)
	}
	more := u.Socket
	more.Listeners = append(more.Listeners, Listener{Kind: Stream, Address: Address{Family: FamilyUnix, Path: "@more"}})
	if got := Fingerprint(l0, &more); got != fp {
		t.Errorf("another listener in the unit changed a fingerprint:\n\t%s\n\t%s", fp, got)
	}

	typ := reflect.TypeOf(Socket{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		s := u.Socket
		perturb(t, reflect.ValueOf(&s).Elem().Field(i), f.Name)
		changed := Fingerprint(l0, &s) != fp
		if activationFields[f.Name] && changed {
			t.Errorf("changing %s changed the fingerprint; want it unchanged (not bound into the socket)", f.Name)
		}
		if !activationFields[f.Name] && !changed {
			t.Errorf("changing %s left the fingerprint %s; want it changed", f.Name, fp)
		}
		if d := Diff([]*Unit{u}, []*Unit{{Name: u.Name, Socket: s, Service: u.Service}}); !activationFields[f.Name] &&
			(len(d.Changed) != 1 || !d.Changed[0].Listeners) {
			t.Errorf("changing %s: Diff = %+v; want Listeners changed", f.Name, d)
		}
	}
}

// perturb sets v, a field of Socket, to a value different from its own.
func perturb(t *testing.T, v reflect.Value, name string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint32:
		v.SetUint(v.Uint() ^ 1)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if !v.IsNil() {
			p.Elem().SetInt(v.Elem().Int() + 1)
		}
		v.Set(p)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Struct: // SocketExtra, SocketHelpers: one field is enough
		perturb(t, v.Field(0), name+"."+v.Type().Field(0).Name)
	default:
		t.Fatalf("perturb: no way to change field %s of kind %s", name, v.Kind())
	}
}
