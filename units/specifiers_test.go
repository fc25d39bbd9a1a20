package units

import (
	"reflect"
	"testing"
)

// testEnv is a fixed SpecifierEnv, so that tests do not depend on the host.
var testEnv = SpecifierEnv{
	RuntimeDir: "/run", Home: "/root", User: "root", UID: "0", Group: "root", GID: "0",
	Hostname: "host.example.com", Kernel: "6.18.0-test",
}

// The specifiers of systemd.unit(5), as unit_full_printf expands them.
func TestSpecifiers(t *testing.T) {
	common := map[byte]string{
		't': "/run", 'h': "/root", 'u': "root", 'U': "0", 'g': "root", 'G': "0",
		'H': "host.example.com", 'l': "host", 'v': "6.18.0-test",
		'T': "/tmp", 'V': "/var/tmp", 'E': "/etc", 'S': "/var/lib", 'C': "/var/cache", 'L': "/var/log", '%': "%",
	}
	units := []struct {
		unit string
		want map[byte]string // the unit's own specifiers
	}{
		{"web.socket", map[byte]string{'n': "web.socket", 'N': "web", 'p': "web", 'P': "web", 'i': "", 'I': "", 'j': "web", 'J': "web"}},
		{"web.service", map[byte]string{'n': "web.service", 'N': "web", 'p': "web", 'P': "web", 'i': "", 'I': "", 'j': "web", 'J': "web"}},
		{"foo-bar@baz.service", map[byte]string{'n': "foo-bar@baz.service", 'N': "foo-bar@baz", 'p': "foo-bar", 'P': "foo/bar", 'i': "baz", 'I': "baz", 'j': "bar", 'J': "bar"}},
		// %P, %I and %J undo systemd-escape: "-" is "/", "\x2d" is "-".
		{`a\x2db-c@x\x2dy-z.service`, map[byte]string{'n': `a\x2db-c@x\x2dy-z.service`, 'N': `a\x2db-c@x\x2dy-z`, 'p': `a\x2db-c`, 'P': "a-b/c", 'i': `x\x2dy-z`, 'I': "x-y/z", 'j': "c", 'J': "c"}},
	}
	for _, u := range units {
		for c, want := range u.want {
			checkExpand(t, "%"+string(c), u.unit, false, want)
		}
		for c, want := range common {
			checkExpand(t, "%"+string(c), u.unit, false, want)
		}
		checkExpand(t, "x%p-%i.%%n", u.unit, false, "x"+u.want['p']+"-"+u.want['i']+".%n")
	}
}

func checkExpand(t *testing.T, s, unit string, keep bool, want string) {
	t.Helper()
	got, err := expandSpecifiers(s, unit, testEnv, keep, false)
	if err != nil || got != want {
		t.Errorf("expandSpecifiers(%q, %s, keep=%v) = %q, %v; want %q, nil", s, unit, keep, got, err, want)
	}
}

func TestSpecifiersTemplate(t *testing.T) {
	// A template keeps what depends on the instance, %i %I %n %N and %%,
	// for Service.Instantiate; the rest is the same for every instance.
	checkExpand(t, "%i %I %n %N %% %p %P %j %t", "web@.service", true, "%i %I %n %N %% web web web /run")
	checkExpand(t, "100%", "web@.service", true, "100%")
	// Expanded for the template itself, without keep.
	checkExpand(t, "[%i] %n %N", "web@.service", false, "[] web@.service web@")
}

func TestSpecifiersPercent(t *testing.T) {
	// systemd's specifier_printf keeps a "%" at the end and before a
	// character that is not a letter or digit; %% is one "%".
	for _, c := range []struct{ in, want string }{
		{"100%", "100%"},
		{"%", "%"},
		{"%%", "%"},
		{"%%%", "%%"},
		{"a%-b", "a%-b"},
		{"% x", "% x"},
		{"%/%.", "%/%."},
		{"50%é", "50%é"},
		{"no specifiers", "no specifiers"},
	} {
		checkExpand(t, c.in, "web.service", false, c.want)
	}
	for _, c := range []struct{ in, want string }{
		{"%z", "unknown specifier %z"},
		{"%Z", "unknown specifier %Z"},
		{"a %1", "unknown specifier %1"},
		{"%b", "unknown specifier %b"}, // systemd's boot id, not supported
	} {
		_, err := expandSpecifiers(c.in, "web.service", testEnv, false, false)
		if err == nil || err.Error() != c.want {
			t.Errorf("expandSpecifiers(%q): got error %v; want %s", c.in, err, c.want)
		}
	}
}

// systemd splits a value into words first and expands specifiers in each
// word after, so a specifier's value is one literal word however it is
// spelled. The Builder gets the same result.
func TestSpecifiersInWords(t *testing.T) {
	env := testEnv
	env.Home = `/home/my user/"q" 'x';\n`
	b := NewBuilder(`a\x2db`, env)
	for _, a := range []Assignment{
		{Section: "Socket", Directive: "ListenStream", Value: "%t/%N.sock"},
		{Section: "Socket", Directive: "Symlinks", Value: "/run/%N"},
	} {
		b.Apply(`a\x2db.socket`, a)
	}
	for _, a := range []Assignment{
		{Section: "Service", Directive: "ExecStart", Value: "/bin/echo %n %h ; /bin/true"},
		{Section: "Service", Directive: "Environment", Value: `NAME=%n "HOME=%h"`},
		{Section: "Service", Directive: "EnvironmentFile", Value: "-%h/env"},
		{Section: "Service", Directive: "WorkingDirectory", Value: "%h"},
		{Section: "Unit", Directive: "Documentation", Value: "file:%h"},
	} {
		b.Apply(`a\x2db.service`, a)
	}
	u, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	home := env.Home
	checks := []struct {
		name      string
		got, want any
	}{
		{"Listeners[0]", u.Socket.Listeners[0].Address.Path, `/run/a\x2db.sock`},
		{"Symlinks", u.Socket.Symlinks, []string{`/run/a\x2db`}},
		{"ExecStart", u.Service.ExecStart, []Command{
			{Path: "/bin/echo", Argv: []string{"/bin/echo", `a\x2db.service`, home}},
			{Path: "/bin/true", Argv: []string{"/bin/true"}},
		}},
		{"Environment", u.Service.Environment, []string{`NAME=a\x2db.service`, "HOME=" + home}},
		{"EnvironmentFiles", u.Service.EnvironmentFiles, []EnvironmentFile{{Path: home + "/env", Optional: true}}},
		{"WorkingDirectory", u.Service.WorkingDirectory, home},
		{"Documentation", u.Service.Documentation, []string{"file:" + home}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
}

func TestInstantiate(t *testing.T) {
	b := NewBuilder("web", testEnv)
	b.Apply("web.socket", Assignment{Section: "Socket", Directive: "ListenStream", Value: "80"})
	b.Apply("web.socket", Assignment{Section: "Socket", Directive: "Accept", Value: "yes"})
	for _, a := range []Assignment{
		{Section: "Unit", Directive: "Description", Value: "Web %I for %n"},
		{Section: "Service", Directive: "ExecStartPre", Value: "-/bin/mkdir -p /run/%p/%i"},
		{Section: "Service", Directive: "ExecStart", Value: `/srv/%i/bin "%I" %n %N %%i 100% %p`},
		{Section: "Service", Directive: "ExecStop", Value: "/bin/kill %i"},
		{Section: "Service", Directive: "ExecReload", Value: "/bin/kill -HUP %i"},
		{Section: "Service", Directive: "ExecStartPost", Value: "/bin/echo %N"},
		{Section: "Service", Directive: "Environment", Value: "INST=%i NAME=%n"},
		{Section: "Service", Directive: "EnvironmentFile", Value: "-/etc/web/%i.env"},
		{Section: "Service", Directive: "WorkingDirectory", Value: "/srv/%i"},
		{Section: "Service", Directive: "User", Value: "u%i"},
		{Section: "Service", Directive: "Group", Value: "g%i"},
		{Section: "Service", Directive: "SupplementaryGroups", Value: "s%i"},
		{Section: "Service", Directive: "StandardOutput", Value: "append:/var/log/%i.log"},
		{Section: "Service", Directive: "StandardError", Value: "file:/var/log/%i.err"},
	} {
		b.Apply("web@.service", a)
	}
	u, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := u.Service
	if tmpl.Name != "web@.service" || !tmpl.IsTemplate() {
		t.Fatalf("service %s: got IsTemplate %v; want web@.service, true", tmpl.Name, tmpl.IsTemplate())
	}
	const inst = `1-a\x2db`
	s := tmpl.Instantiate(inst)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Name", s.Name, `web@1-a\x2db.service`},
		{"IsTemplate", s.IsTemplate(), false},
		{"Description", s.Description, `Web 1/a-b for web@1-a\x2db.service`},
		{"ExecStartPre", s.ExecStartPre, []Command{{Path: "/bin/mkdir", Argv: []string{"/bin/mkdir", "-p", `/run/web/1-a\x2db`}, IgnoreFailure: true}}},
		{"ExecStart", s.ExecStart, []Command{{Path: `/srv/1-a\x2db/bin`, Argv: []string{`/srv/1-a\x2db/bin`, "1/a-b", `web@1-a\x2db.service`, `web@1-a\x2db`, "%i", "100%", "web"}}}},
		{"ExecStop", s.ExecStop[0].Argv, []string{"/bin/kill", inst}},
		{"ExecReload", s.ExecReload[0].Argv, []string{"/bin/kill", "-HUP", inst}},
		{"ExecStartPost", s.ExecStartPost[0].Argv, []string{"/bin/echo", `web@1-a\x2db`}},
		{"Environment", s.Environment, []string{"INST=" + inst, `NAME=web@1-a\x2db.service`}},
		{"EnvironmentFiles", s.EnvironmentFiles, []EnvironmentFile{{Path: `/etc/web/1-a\x2db.env`, Optional: true}}},
		{"WorkingDirectory", s.WorkingDirectory, `/srv/1-a\x2db`},
		{"User", s.User, "u" + inst},
		{"Group", s.Group, "g" + inst},
		{"SupplementaryGroups", s.SupplementaryGroups, []string{"s" + inst}},
		{"StandardOutput", s.StandardOutput, StdOutput{Kind: OutAppend, Path: `/var/log/1-a\x2db.log`}},
		{"StandardError", s.StandardError, StdOutput{Kind: OutFile, Path: `/var/log/1-a\x2db.err`}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("Instantiate(%q).%s = %q; want %q", inst, c.name, c.got, c.want)
		}
	}
	// The template is left as it was.
	if got := u.Service.ExecStart[0].Path; got != "/srv/%i/bin" {
		t.Errorf("after Instantiate, the template's ExecStart path is %q; want /srv/%%i/bin", got)
	}
	if got := u.Service.Environment[0]; got != "INST=%i" {
		t.Errorf("after Instantiate, the template's Environment[0] is %q; want INST=%%i", got)
	}

	// A service that is not a template is returned unchanged.
	plain := Service{Name: "web.service", ExecStart: []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "%i"}}}}
	if got := plain.Instantiate("x"); !reflect.DeepEqual(got, plain) {
		t.Errorf("Instantiate of %s = %+v; want it unchanged", plain.Name, got)
	}

	if got := instantiateString("%i %I %% %n %x 5%", "", "a-b"); got != "a-b a/b % %n %x 5%" {
		t.Errorf("instantiateString without a name = %q; want %q", got, "a-b a/b % %n %x 5%")
	}
	if got := InstanceName("web@.service", "7"); got != "web@7.service" {
		t.Errorf("InstanceName = %q; want web@7.service", got)
	}
}
