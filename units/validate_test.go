package units

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// programs makes an executable file, a file that is not executable and a
// directory in a temporary directory.
func programs(t *testing.T) (prog, noexec, dir string) {
	t.Helper()
	dir = t.TempDir()
	prog, noexec = filepath.Join(dir, "prog"), filepath.Join(dir, "noexec")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0644); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is subject to the umask; make sure of it.
	if err := os.Chmod(noexec, 0644); err != nil {
		t.Fatal(err)
	}
	return prog, noexec, dir
}

func validate(t *testing.T, lines ...Assignment) error {
	t.Helper()
	u, err := build(lines...)
	if err != nil {
		t.Fatalf("building the unit: %v", err)
	}
	return Validate(u)
}

func TestValidate(t *testing.T) {
	prog, noexec, dir := programs(t)
	listen := at("Socket", "ListenStream", "80", 1)
	start := at("Service", "ExecStart", prog, 1)

	wantErrors(t, "a good unit", validate(t, listen, start, at("Service", "ExecStartPre", prog+" -x", 2)))

	wantErrors(t, "no listener", validate(t, start),
		testSocketFile+": no Listen*= directive: the socket has nothing to listen on")

	wantErrors(t, "Accept=yes on a datagram and a FIFO listener", validate(t,
		listen,
		at("Socket", "ListenDatagram", "53", 2),
		at("Socket", "ListenSequentialPacket", "@seq", 3),
		at("Socket", "ListenFIFO", "/run/web.fifo", 4),
		at("Socket", "Accept", "yes", 5),
		start),
		testSocketFile+":2: [Socket] ListenDatagram: Accept=yes needs listeners that accept connections, ListenDatagram does not",
		testSocketFile+":4: [Socket] ListenFIFO: Accept=yes needs listeners that accept connections, ListenFIFO does not")

	wantErrors(t, "no ExecStart", validate(t, listen),
		testServiceFile+": service web.service has no ExecStart=")

	wantErrors(t, "two ExecStart", validate(t, listen, start, at("Service", "ExecStart", prog+" again", 2)),
		testServiceFile+":2: [Service] ExecStart: service web.service has 2 ExecStart= commands; only Type=oneshot allows more than one")

	wantErrors(t, "two ExecStart on one line", validate(t, listen, at("Service", "ExecStart", prog+" ; "+prog, 3)),
		testServiceFile+":3: [Service] ExecStart: service web.service has 2 ExecStart= commands; only Type=oneshot allows more than one")

	wantErrors(t, "programs", validate(t, listen,
		at("Service", "ExecStart", "/nonexistent/sockd-test", 2),
		at("Service", "ExecStartPre", noexec, 3),
		at("Service", "ExecStartPost", dir, 4),
		at("Service", "ExecStop", "no-such-program-sockd-test", 5),
		at("Service", "ExecReload", prog, 6),
		at("Service", "ExecReload", noexec+" reload", 7)),
		testServiceFile+":2: [Service] ExecStart: program /nonexistent/sockd-test: no such file or directory",
		testServiceFile+":3: [Service] ExecStartPre: program "+noexec+" is not executable",
		testServiceFile+":4: [Service] ExecStartPost: program "+dir+" is not a regular file",
		testServiceFile+`:5: [Service] ExecStop: program "no-such-program-sockd-test" not found in `+SearchPath,
		testServiceFile+":7: [Service] ExecReload: program "+noexec+" is not executable")

	// "-": a failure to execute is ignored like any other failure.
	wantErrors(t, "optional programs", validate(t, listen, start,
		at("Service", "ExecStartPre", "-/nonexistent/sockd-test", 2),
		at("Service", "ExecStop", "-"+noexec, 3)))

	wantErrors(t, "unknown users and groups", validate(t, listen, start,
		at("Service", "User", "no-such-user-sockd", 2),
		at("Service", "Group", "no-such-group-sockd", 3),
		at("Service", "SupplementaryGroups", "no-such-group-sockd-2 12345", 4),
		at("Socket", "SocketUser", "no-such-user-sockd-2", 5),
		at("Socket", "SocketGroup", "no-such-group-sockd-3", 6)),
		testServiceFile+`:2: [Service] User: unknown user "no-such-user-sockd"`,
		testServiceFile+`:3: [Service] Group: unknown group "no-such-group-sockd"`,
		testServiceFile+`:4: [Service] SupplementaryGroups: unknown group "no-such-group-sockd-2"`,
		testSocketFile+`:5: [Socket] SocketUser: unknown user "no-such-user-sockd-2"`,
		testSocketFile+`:6: [Socket] SocketGroup: unknown group "no-such-group-sockd-3"`)

	// Numeric ids need no entry in the user database; root always exists.
	wantErrors(t, "numeric and known users", validate(t, listen, start,
		at("Service", "User", "54321", 2), at("Service", "Group", "0", 3), at("Socket", "SocketUser", "root", 4)))

	wantErrors(t, "StandardInput=socket with two listeners", validate(t, listen,
		at("Socket", "ListenStream", "81", 2), start, at("Service", "StandardInput", "socket", 3)),
		testServiceFile+":3: [Service] StandardInput: StandardInput=socket needs Accept=yes or exactly one listener, the unit has 2")
	wantErrors(t, "StandardInput=socket with Accept=yes", validate(t, listen,
		at("Socket", "ListenStream", "81", 2), at("Socket", "Accept", "yes", 3), start, at("Service", "StandardInput", "socket", 3)))

	wantErrors(t, "StandardOutput=socket without StandardInput=socket", validate(t, listen, start,
		at("Service", "StandardOutput", "socket", 4), at("Service", "StandardError", "socket", 5)),
		testServiceFile+":4: [Service] StandardOutput: StandardOutput=socket needs StandardInput=socket",
		testServiceFile+":5: [Service] StandardError: StandardError=socket needs StandardInput=socket")

	wantErrors(t, "Symlinks= with two paths", validate(t, listen,
		at("Socket", "ListenStream", "/run/a.sock", 2), at("Socket", "ListenFIFO", "/run/a.fifo", 3),
		at("Socket", "Symlinks", "/run/b", 4), start),
		testSocketFile+":4: [Socket] Symlinks: needs exactly one Unix socket path or FIFO, the unit has 2")
	wantErrors(t, "Symlinks= with one path", validate(t, listen,
		at("Socket", "ListenStream", "/run/a.sock", 2), at("Socket", "Symlinks", "/run/b", 4), start))
}

// A template's programs that depend on the instance are checked when an
// instance starts, not before.
func TestValidateTemplate(t *testing.T) {
	b := NewBuilder("web", testEnv)
	b.Apply("web.socket", at("Socket", "ListenStream", "80", 1))
	b.Apply("web.socket", at("Socket", "Accept", "yes", 2))
	b.Apply("web@.service", at("Service", "ExecStart", "/srv/%i/bin", 1))
	b.Apply("web@.service", at("Service", "User", "u%i", 2))
	u, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	wantErrors(t, "a template", Validate(u))
}

func TestLookPath(t *testing.T) {
	prog, _, _ := programs(t)
	if got, err := LookPath(prog); err != nil || got != prog {
		t.Errorf("LookPath(%s) = %s, %v; want %s, nil", prog, got, err, prog)
	}
	sh, err := LookPath("sh")
	testenv.Require(t, err == nil, fmt.Sprintf("no sh in %s: %v", SearchPath, err))
	if !filepath.IsAbs(sh) || filepath.Base(sh) != "sh" {
		t.Errorf("LookPath(sh) = %s; want an absolute path to sh", sh)
	}
}

func TestValidateSet(t *testing.T) {
	unit := func(name string, lines ...Assignment) *Unit {
		b := NewBuilder(name, testEnv)
		path := "/etc/sockd/units/" + name + ".socket"
		b.AddFile(path)
		for _, a := range lines {
			a.Pos.File = path
			b.Apply(name+".socket", a)
		}
		u, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	stream := func(addr string, line int) Assignment { return at("Socket", "ListenStream", addr, line) }

	cases := []struct {
		name  string
		units []*Unit
		bad   map[string]bool
		errs  []string
	}{
		{"distinct addresses",
			[]*Unit{unit("a", stream("80", 1)), unit("b", stream("8080", 1), at("Socket", "ListenDatagram", "80", 2))},
			map[string]bool{}, nil},
		{"the same address: the later by name is left out",
			[]*Unit{unit("b", stream("9", 1), stream("127.0.0.1:80", 2)), unit("a", stream("127.0.0.1:80", 3))},
			map[string]bool{"b": true},
			[]string{"/etc/sockd/units/b.socket:2: [Socket] ListenStream: address 127.0.0.1:80 is already claimed by unit a"}},
		{"a bare port and [::]:port",
			[]*Unit{unit("a", stream("80", 1)), unit("b", stream("[::]:80", 4))},
			map[string]bool{"b": true},
			[]string{"/etc/sockd/units/b.socket:4: [Socket] ListenStream: address [::]:80 is already claimed by unit a"}},
		{"[::]:port and a bare port",
			[]*Unit{unit("a", stream("[::]:80", 1)), unit("b", stream("80", 4))},
			map[string]bool{"b": true},
			[]string{"/etc/sockd/units/b.socket:4: [Socket] ListenStream: address 80 is already claimed by unit a"}},
		{"a path, and an abstract name",
			[]*Unit{unit("a", stream("/run/x.sock", 1), stream("@x", 2)), unit("b", at("Socket", "ListenFIFO", "/run/x.sock", 3)), unit("c", at("Socket", "ListenDatagram", "@x", 5))},
			map[string]bool{"b": true, "c": true},
			[]string{
				"/etc/sockd/units/b.socket:3: [Socket] ListenFIFO: address /run/x.sock is already claimed by unit a",
				"/etc/sockd/units/c.socket:5: [Socket] ListenDatagram: address @x is already claimed by unit a",
			}},
		{"TCP and UDP on one port do not conflict",
			[]*Unit{unit("a", stream("127.0.0.1:53", 1)), unit("b", at("Socket", "ListenDatagram", "127.0.0.1:53", 1))},
			map[string]bool{}, nil},
		{"a unit left out claims nothing",
			[]*Unit{unit("a", stream("80", 1)), unit("b", stream("80", 1), stream("81", 2)), unit("c", stream("81", 1))},
			map[string]bool{"b": true},
			[]string{"/etc/sockd/units/b.socket:1: [Socket] ListenStream: address 80 is already claimed by unit a"}},
		{"vsock",
			[]*Unit{unit("a", stream("vsock:2:1024", 1)), unit("b", stream("vsock:host:1024", 2))},
			map[string]bool{"b": true},
			[]string{"/etc/sockd/units/b.socket:2: [Socket] ListenStream: address vsock:2:1024 is already claimed by unit a"}},
	}
	for _, c := range cases {
		bad, errs := ValidateSet(c.units)
		if !reflect.DeepEqual(bad, c.bad) {
			t.Errorf("%s: left out %v; want %v", c.name, bad, c.bad)
		}
		wantErrors(t, c.name, errs.Err(), c.errs...)
	}
}
