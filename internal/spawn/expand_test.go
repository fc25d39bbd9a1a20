package spawn

import (
	"slices"
	"testing"
)

func TestExpandArgv(t *testing.T) {
	env := []string{
		"ONE=one", "TWO=two two", "QUOTED='one' \"two two\" too", "EMPTY=",
		"SPACES=  a   b  ", "OVER=first", "OVER=second", "ESC=a\\ b c",
		"UNBAL=a 'b c", "TAB=x\ty",
	}
	tests := []struct {
		in, want []string
	}{
		// systemd.service(5): ExecStart=echo $ONE $TWO ${TWO}
		{[]string{"echo", "$ONE", "$TWO", "${TWO}"}, []string{"echo", "one", "two", "two", "two two"}},
		// systemd.service(5), the second example.
		{[]string{"/bin/echo", "${ONE}", "${QUOTED}", "${EMPTY}"}, []string{"/bin/echo", "one", "'one' \"two two\" too", ""}},
		{[]string{"/bin/echo", "$ONE", "$QUOTED", "$EMPTY"}, []string{"/bin/echo", "one", "one", "two two", "too"}},
		{[]string{"a", "$UNSET", "b"}, []string{"a", "b"}},
		{[]string{"a", "${UNSET}", "b"}, []string{"a", "", "b"}},
		{[]string{"x$ONE", "pre${ONE}post", "${ONE}${TWO}"}, []string{"x$ONE", "preonepost", "onetwo two"}},
		{[]string{"$$", "$$ONE", "a$$b", "$$$", "cost: $5"}, []string{"$", "$ONE", "a$b", "$$", "cost: $5"}},
		{[]string{"$"}, []string{}},
		{[]string{"$1abc", "$A-B"}, []string{}}, // not valid names: dropped, as in systemd
		{[]string{"${ONE", "a${}b", "${1X}"}, []string{"${ONE", "ab", ""}},
		{[]string{"${ONE:-x}", "${ONE:-x}${TWO}"}, []string{"${ONE:-x}", "${ONE:-x}two two"}},
		{[]string{"$SPACES"}, []string{"a", "b"}},
		{[]string{"$OVER", "${OVER}"}, []string{"second", "second"}},
		{[]string{"$ESC"}, []string{"a b", "c"}},
		{[]string{"$UNBAL"}, []string{"a", "b c"}},
		{[]string{"$TAB"}, []string{"x", "y"}},
		{[]string{"${TAB}"}, []string{"x\ty"}},
	}
	for _, tt := range tests {
		if got, err := ExpandArgv(tt.in, env); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ExpandArgv(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSplitUnquote(t *testing.T) {
	tests := map[string][]string{
		"":                 nil,
		"   ":              nil,
		"a":                {"a"},
		` a  b `:           {"a", "b"},
		`'' ""`:            {"", ""},
		`a"b c"d`:          {"ab cd"},
		`'a\'b'`:           {"a'b"},
		`"a\"b" x\ y`:      {`a"b`, "x y"},
		`trailing\`:        {"trailing"},
		`"unterminated x`:  {"unterminated x"},
		"new\nline\r\tx":   {"new", "line", "x"},
		`mixed'single'"d"`: {"mixedsingled"},
	}
	for in, want := range tests {
		if got := splitUnquote(in); !slices.Equal(got, want) {
			t.Errorf("splitUnquote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExitCodeName(t *testing.T) {
	for code, want := range map[int]string{
		0: "0/SUCCESS", 1: "1/FAILURE", 2: "2", 200: "200/CHDIR", 203: "203/EXEC",
		205: "205/LIMITS", 209: "209/STDOUT", 216: "216/GROUP", 217: "217/USER",
		222: "222/STDERR", 223: "223", 227: "227/NO_NEW_PRIVILEGES", 231: "231/APPARMOR",
		234: "234", 243: "243/CREDENTIALS", 244: "244", 245: "245/BPF", 255: "255/EXCEPTION",
	} {
		if got := ExitCodeName(code); got != want {
			t.Errorf("ExitCodeName(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestExecStatusRoundTrip(t *testing.T) {
	err := parseExecStatus(formatExecStatus(ExitUser, 0, "user \"x\": unknown user x"))
	ee, ok := err.(*ExecError)
	if !ok || ee.Code != ExitUser || ee.Unwrap() != nil || ee.Error() != `217/USER: user "x": unknown user x` {
		t.Errorf("got %#v", err)
	}
	for _, bad := range []string{"", "203", "x 2 msg", "203 y msg"} {
		if _, ok := parseExecStatus([]byte(bad)).(*ExecError); ok {
			t.Errorf("parseExecStatus(%q) accepted", bad)
		}
	}
}
