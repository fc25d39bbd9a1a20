package units

import (
	"reflect"
	"strings"
	"testing"
)

// ParseCommands follows the "Command lines" section of systemd.service(5)
// and config_parse_exec in systemd's src/core/load-fragment.c.

func TestParseCommands(t *testing.T) {
	cmd := func(path string, argv ...string) Command { return Command{Path: path, Argv: argv} }
	cases := []struct {
		in   string
		want []Command
	}{
		{"/bin/true", []Command{cmd("/bin/true", "/bin/true")}},
		{"true", []Command{cmd("true", "true")}}, // a bare name, looked up in SearchPath
		{`/bin/echo "a b" c\sd`, []Command{cmd("/bin/echo", "/bin/echo", "a b", "c d")}},
		{`"/opt/my app/run" x`, []Command{cmd("/opt/my app/run", "/opt/my app/run", "x")}},
		// prefixes, in any order, each at most once
		{"-/bin/false", []Command{{Path: "/bin/false", Argv: []string{"/bin/false"}, IgnoreFailure: true}}},
		{":/bin/echo $X", []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "$X"}, NoEnvExpand: true}}},
		{"@/bin/busybox sh -c x", []Command{cmd("/bin/busybox", "sh", "-c", "x")}},
		{"-@:/bin/busybox sh", []Command{{Path: "/bin/busybox", Argv: []string{"sh"}, IgnoreFailure: true, NoEnvExpand: true}}},
		{":-@/bin/busybox sh", []Command{{Path: "/bin/busybox", Argv: []string{"sh"}, IgnoreFailure: true, NoEnvExpand: true}}},
		{"@:-/bin/busybox sh", []Command{{Path: "/bin/busybox", Argv: []string{"sh"}, IgnoreFailure: true, NoEnvExpand: true}}},
		{`"-/opt/my app/run"`, []Command{{Path: "/opt/my app/run", Argv: []string{"/opt/my app/run"}, IgnoreFailure: true}}},
		{"+/bin/true", []Command{{Path: "/bin/true", Argv: []string{"/bin/true"}, Privilege: PrivFull}}},
		{"-!/bin/true", []Command{{Path: "/bin/true", Argv: []string{"/bin/true"}, IgnoreFailure: true, Privilege: PrivNoSetuid}}},
		{"@-!!/bin/true x", []Command{{Path: "/bin/true", Argv: []string{"x"}, IgnoreFailure: true, Privilege: PrivAmbientFB}}},
		{"--x", []Command{{Path: "-x", Argv: []string{"-x"}, IgnoreFailure: true}}}, // a second "-" is part of the name
		// ";" separates commands; "\;" is a literal ";" argument
		{"/bin/a ; /bin/b x", []Command{cmd("/bin/a", "/bin/a"), cmd("/bin/b", "/bin/b", "x")}},
		{"/bin/a;x ; -/bin/b", []Command{cmd("/bin/a;x", "/bin/a;x"), {Path: "/bin/b", Argv: []string{"/bin/b"}, IgnoreFailure: true}}},
		{`/usr/bin/find . -exec rm {} \;`, []Command{cmd("/usr/bin/find", "/usr/bin/find", ".", "-exec", "rm", "{}", ";")}},
		{`/bin/echo \; ; /bin/true`, []Command{cmd("/bin/echo", "/bin/echo", ";"), cmd("/bin/true", "/bin/true")}},
		// As in config_parse_exec, only an unquoted ";" and a bare "\;"
		// are special after the first word: a quoted ";" is an argument,
		// "\\;" and a quoted "\;" are the two characters \; (relaxed).
		{`/bin/echo ";" x`, []Command{cmd("/bin/echo", "/bin/echo", ";", "x")}},
		{`/bin/echo \\; "\;" a;`, []Command{cmd("/bin/echo", "/bin/echo", `\;`, `\;`, "a;")}},
		// Empty commands are skipped, as systemd skips them.
		{"; /bin/a ; ; /bin/b ;", []Command{cmd("/bin/a", "/bin/a"), cmd("/bin/b", "/bin/b")}},
		{"/bin/a ;; /bin/b", []Command{cmd("/bin/a", "/bin/a", ";;", "/bin/b")}}, // ";;" is not a lone ";"
		{`";" /bin/a`, []Command{cmd("/bin/a", "/bin/a")}},
		{";", nil},
		{"", nil},
		// After the first word, an unknown escape is kept as written.
		{`/bin/grep \d+`, []Command{cmd("/bin/grep", "/bin/grep", `\d+`)}},
	}
	for _, c := range cases {
		got, err := ParseCommands(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseCommands(%q) = %+v, %v; want %+v, nil", c.in, got, err, c.want)
		}
	}
}

func TestParseCommandsErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"-", "empty executable path"},
		{"@", "empty executable path"},
		{"-@:", "empty executable path"},
		{`""`, "empty executable path"},
		{"/bin/a ; -", "empty executable path"},
		{"@/bin/busybox", `prefix "@" needs argv[0] after the executable path`},
		{"bin/true", `executable path "bin/true" is neither absolute nor a bare file name`},
		{"./run", `executable path "./run" is neither absolute nor a bare file name`},
		{"..", `executable path ".." is neither absolute nor a bare file name`},
		{"/usr/bin/", `executable path "/usr/bin/" is a directory`},
		{"/bin/a ; x/y", `executable path "x/y" is neither absolute nor a bare file name`},
		{"+!/bin/true", `at most one of the prefixes "+", "!" and "!!" may be used`},
		{"!!!/bin/true", `at most one of the prefixes "+", "!" and "!!" may be used`},
		{"!!+/bin/true", `at most one of the prefixes "+", "!" and "!!" may be used`},
		{"|/bin/true", `prefix "|" (login shell) is not supported by sockd`},
		{"/bin/a ; +!/bin/b", `at most one of the prefixes "+", "!" and "!!" may be used`},
		{`/bin/echo "a`, `unbalanced quoting: "\"a"`},
		// The first word of every command has strict escapes.
		{`/bin/\q`, `invalid escape sequence "\\q"`},
		{`/bin/a ; /bin/\q`, `invalid escape sequence "\\q"`},
	}
	for _, c := range cases {
		got, err := ParseCommands(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("ParseCommands(%q) = %+v, %v; want error %s", c.in, got, err, c.want)
		}
	}
}

func TestCommandString(t *testing.T) {
	cases := []struct {
		cmd  Command
		want string
	}{
		{Command{Path: "/bin/true", Argv: []string{"/bin/true"}}, "/bin/true"},
		{Command{Path: "/bin/echo", Argv: []string{"/bin/echo", "a b", ";", `\;`}}, `/bin/echo "a b" \; "\\;"`},
		{Command{Path: "/bin/busybox", Argv: []string{"sh", "-c", "x"}, IgnoreFailure: true, NoEnvExpand: true}, "-:@/bin/busybox sh -c x"},
		{Command{Path: "/opt/my app/run", Argv: []string{"/opt/my app/run"}, IgnoreFailure: true}, `"-/opt/my app/run"`},
		{Command{Path: "@x", Argv: []string{"@x"}}, "@@x @x"},
	}
	for _, c := range cases {
		got := c.cmd.String()
		if got != c.want {
			t.Errorf("%+v.String() = %s; want %s", c.cmd, got, c.want)
		}
		back, err := ParseCommands(got)
		if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0], c.cmd) {
			t.Errorf("ParseCommands(%s) = %+v, %v; want [%+v]", got, back, err, c.cmd)
		}
	}
}

// FuzzParseCommands checks that ParseCommands never panics and that the
// commands it returns format (Command.String) to text that parses back
// to the same commands, alone and joined with " ; ".
func FuzzParseCommands(f *testing.F) {
	for _, s := range []string{
		"/bin/true", `-@:/bin/busybox sh -c "echo \"hi\""`, `/usr/bin/find . -exec rm {} \;`,
		`/bin/echo ";" \\; "\;" ; /bin/b`, "; ;", `+/bin/x`, `/bin/\q`, `/bin/x \q "a`, `"-/opt/my app/run" x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmds, err := ParseCommands(s)
		if err != nil {
			return
		}
		lines := make([]string, len(cmds))
		for i, c := range cmds {
			lines[i] = c.String()
			back, err := ParseCommands(lines[i])
			if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0], c) {
				t.Fatalf("ParseCommands(%q): command %+v formats to %s, which parses to %+v, %v", s, c, lines[i], back, err)
			}
		}
		joined := strings.Join(lines, " ; ")
		back, err := ParseCommands(joined)
		if err != nil || len(back) != len(cmds) || len(cmds) > 0 && !reflect.DeepEqual(back, cmds) {
			t.Fatalf("ParseCommands(%q) = %+v; joined %s parses to %+v, %v", s, cmds, joined, back, err)
		}
	})
}
