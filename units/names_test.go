package units

import (
	"errors"
	"os"
	"strconv"
	"testing"
)

func TestParseUnitName(t *testing.T) {
	cases := []struct {
		in   string
		want UnitName
	}{
		{"web.socket", UnitName{Prefix: "web", Suffix: "socket"}},
		{"web.service", UnitName{Prefix: "web", Suffix: "service"}},
		{"web@.service", UnitName{Prefix: "web", Template: true, Suffix: "service"}},
		{"web@1-127.0.0.1:80-127.0.0.1:4711.service", UnitName{Prefix: "web", Instance: "1-127.0.0.1:80-127.0.0.1:4711", Template: true, Suffix: "service"}},
		{"a.b.service", UnitName{Prefix: "a.b", Suffix: "service"}},
		{"a@b@c.service", UnitName{Prefix: "a", Instance: "b@c", Template: true, Suffix: "service"}},
	}
	for _, c := range cases {
		got, err := ParseUnitName(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseUnitName(%q) = %+v, %v; want %+v, nil", c.in, got, err, c.want)
			continue
		}
		if s := got.String(); s != c.in {
			t.Errorf("ParseUnitName(%q).String() = %q; want %q", c.in, s, c.in)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"web", `invalid unit name "web": no type suffix`},
		{"web.", `invalid unit name "web.": no type suffix`},
		{".service", `invalid unit name ".service": no type suffix`},
		{"@x.service", `invalid unit name "@x.service": empty prefix`},
	} {
		if _, err := ParseUnitName(c.in); err == nil || err.Error() != c.want {
			t.Errorf("ParseUnitName(%q): got error %v; want %s", c.in, err, c.want)
		}
	}
	for name, want := range map[string]bool{"web@.service": true, "web@1.service": false, "web.service": false, "web@": false} {
		if got := isTemplateName(name); got != want {
			t.Errorf("isTemplateName(%q) = %v; want %v", name, got, want)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		pos  Position
		want string
	}{
		{Position{File: "/u/web.socket", Line: 3, Directive: "[Socket] Backlog"}, "/u/web.socket:3: [Socket] Backlog: bad"},
		{Position{File: "/u/web.socket", Line: 3}, "/u/web.socket:3: bad"},
		{Position{File: "/u/web.socket"}, "/u/web.socket: bad"},
		{Position{Directive: "listen_stream"}, "listen_stream: bad"},
		{Position{}, "bad"},
	}
	cause := errors.New("bad")
	for _, c := range cases {
		err := &Error{Pos: c.pos, Err: cause}
		if err.Error() != c.want || !errors.Is(err, cause) {
			t.Errorf("Error{%+v} = %q (Is cause: %v); want %q", c.pos, err.Error(), errors.Is(err, cause), c.want)
		}
	}
	if got := Errorf(Position{File: "f", Line: 1}, "x %d", 2).Error(); got != "f:1: x 2" {
		t.Errorf("Errorf = %q; want %q", got, "f:1: x 2")
	}

	var empty ErrorList
	if empty.Err() != nil {
		t.Errorf("ErrorList{}.Err() = %v; want nil", empty.Err())
	}
	inner := ErrorList{errors.New("b"), errors.New("c")}
	list := ErrorList{errors.New("a"), inner, cause}
	if got, want := list.Error(), "a\nb\nc\nbad"; got != want {
		t.Errorf("ErrorList.Error() = %q; want %q", got, want)
	}
	if got := Errors(list); len(got) != 4 || got[3] != cause {
		t.Errorf("Errors(list) = %v; want 4 errors, flattened", got)
	}
	if !errors.Is(list.Err(), cause) {
		t.Errorf("errors.Is(list, cause) = false; want true")
	}
	if got := Errors(cause); len(got) != 1 || got[0] != cause {
		t.Errorf("Errors(cause) = %v; want [cause]", got)
	}
	if Errors(nil) != nil {
		t.Errorf("Errors(nil) = %v; want nil", Errors(nil))
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"ListenStream", "ListenDatagram", "Backlog", "Accept"}
	for _, c := range []struct{ in, want string }{
		{"ListenStrem", "ListenStream"},
		{"listenstream", "ListenStream"},
		{"ListenDatagramm", "ListenDatagram"},
		{"Backlogs", "Backlog"},
		{"Acept", "Accept"},
		{"Frobnicate", ""},
		{"X", ""},
	} {
		if got := Suggest(c.in, names); got != c.want {
			t.Errorf("Suggest(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestDefaultSpecifierEnv(t *testing.T) {
	env := DefaultSpecifierEnv()
	if env.UID != strconv.Itoa(os.Getuid()) || env.GID != strconv.Itoa(os.Getgid()) {
		t.Errorf("DefaultSpecifierEnv: UID %q, GID %q; want %d, %d", env.UID, env.GID, os.Getuid(), os.Getgid())
	}
	if os.Getuid() == 0 && env.RuntimeDir != "/run" {
		t.Errorf("DefaultSpecifierEnv as root: RuntimeDir %q; want /run", env.RuntimeDir)
	}
	if env.User == "" || env.Kernel == "" {
		t.Errorf("DefaultSpecifierEnv: User %q, Kernel %q; want both set", env.User, env.Kernel)
	}
}

func TestParseUnitNameRefusesPathCharacters(t *testing.T) {
	for _, name := range []string{"../x.service", "a/b.service", "a b.service", "x\x00.service"} {
		if _, err := ParseUnitName(name); err == nil {
			t.Errorf("ParseUnitName(%q) = nil error; want an error", name)
		}
	}
}
