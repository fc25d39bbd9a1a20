package spawn

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sockd/sockd/units"
)

func TestParseEnvironmentFile(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		invalid  []string
	}{
		{"simple", "A=1\nB=2\n", []string{"A=1", "B=2"}, nil},
		{"no final newline", "A=1", []string{"A=1"}, nil},
		{"comments and blanks", "# c\n; c\n\n   \n  # indented\nA=1\n", []string{"A=1"}, nil},
		{"hash inside value", "A=x # not a comment\n", []string{"A=x # not a comment"}, nil},
		{"no equals", "JUSTTEXT\nA=1\n", []string{"A=1"}, nil},
		{"trim", "  A  =   spaced value  \t\n", []string{"A=spaced value"}, nil},
		{"empty value", "A=\nB=   \n", []string{"A=", "B="}, nil},
		{"later wins in place", "A=1\nB=2\nA=3\n", []string{"A=3", "B=2"}, nil},
		{"unquoted escapes", `A=a\ b\\c\"d` + "\n", []string{`A=a b\c"d`}, nil},
		{"escaped trailing blank kept", "A=x\\ \n", []string{"A=x "}, nil},
		{"continuation", "A=one \\\n  two\n", []string{"A=one   two"}, nil},
		{"quotes after first char kept", `A=it's "x"` + "\n", []string{`A=it's "x"`}, nil},
		{"single quotes", "A='  a \\n \"b\" '\n", []string{`A=  a \n "b" `}, nil},
		{"single multiline", "A='a\nb'\n", []string{"A=a\nb"}, nil},
		{"double quotes", `A="a \"q\" \$x \` + "`" + ` \\ \n"` + "\n", []string{"A=a \"q\" $x ` \\ \\n"}, nil},
		{"double continuation", "A=\"a\\\nb\"\n", []string{"A=ab"}, nil},
		{"double multiline", "A=\"a\nb\"\n", []string{"A=a\nb"}, nil},
		{"concatenated", `A='a'"b"c` + "\n", []string{"A=abc"}, nil},
		{"blanks around quotes", "A=  'x'  \n", []string{"A=x"}, nil},
		{"unterminated quote", "A='abc", []string{"A=abc"}, nil},
		{"crlf", "A=1\r\nB=2\r\n", []string{"A=1", "B=2"}, nil},
		{"export not supported", "export A=1\nB=2\n", []string{"B=2"}, []string{"export A"}},
		{"invalid names", "1A=x\nA-B=y\n=z\n=z=1\nOK=1\n", []string{"OK=1"}, []string{"1A", "A-B", "=z"}},
		{"comment continuation", "# c \\\nA=1\n", []string{"A=1"}, nil},
		{"stops at NUL", "A=1\nB=2\x00C=3\n", []string{"A=1", "B=2"}, nil},
		{"utf-8", "A=héllo wörld\n", []string{"A=héllo wörld"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, invalid, err := ParseEnvironmentFile([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(env, tt.want) || !slices.Equal(invalid, tt.invalid) {
				t.Errorf("got %q invalid %q, want %q invalid %q", env, invalid, tt.want, tt.invalid)
			}
		})
	}
}

func TestParseEnvironmentFileBadUTF8(t *testing.T) {
	if _, _, err := ParseEnvironmentFile([]byte("A=1\nB=\xff\n")); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestLoadEnvironmentFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.env", "A=1\nB=from-a\n")
	write("conf.d-1.env", "C=1\n")
	write("conf.d-2.env", "C=2\nB=from-glob\n")
	log := slog.New(slog.DiscardHandler)
	env, err := LoadEnvironmentFiles([]units.EnvironmentFile{
		{Path: a},
		{Path: filepath.Join(dir, "missing"), Optional: true},
		{Path: filepath.Join(dir, "conf.d-*.env")},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=1", "B=from-glob", "C=2"}; !slices.Equal(env, want) {
		t.Errorf("got %q, want %q", env, want)
	}
	for _, f := range []units.EnvironmentFile{
		{Path: filepath.Join(dir, "missing")},
		{Path: filepath.Join(dir, "nomatch-*")},
		{Path: write("bad.env", "A=\xff")},
	} {
		if _, err := LoadEnvironmentFiles([]units.EnvironmentFile{f}, log); err == nil {
			t.Errorf("%s: no error", f.Path)
		}
		f.Optional = true
		if _, err := LoadEnvironmentFiles([]units.EnvironmentFile{f}, log); err != nil {
			t.Errorf("optional %s: %v", f.Path, err)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2", "junk"}, nil, []string{"C=3", "A=4"}, []string{"B="})
	if want := []string{"A=4", "B=", "C=3"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
