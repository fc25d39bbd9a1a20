package systemdfile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

// e builds an expected entry whose systemd line is its first line.
func e(section, key, value string, line int) entry {
	return entry{section: section, key: key, value: value, line: line, lastLine: line}
}

// ec builds an expected entry that spans lines first to last.
func ec(section, key, value string, first, last int) entry {
	return entry{section: section, key: key, value: value, line: first, lastLine: last}
}

func TestLex(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []entry
		errs []string
	}{
		{name: "empty file", in: ""},
		{name: "blank lines only", in: "\n\n  \t\n"},
		{
			name: "key value",
			in:   "[Socket]\nListenStream=80\n",
			want: []entry{e("Socket", "ListenStream", "80", 2)},
		},
		{
			name: "no final newline",
			in:   "[Socket]\nListenStream=80",
			want: []entry{e("Socket", "ListenStream", "80", 2)},
		},
		{
			name: "whitespace around key, equals and value is trimmed",
			in:   "[Socket]\n \tListenStream \t= \t 80 \t\n",
			want: []entry{e("Socket", "ListenStream", "80", 2)},
		},
		{
			name: "inner whitespace and further equals signs are kept",
			in:   "[Service]\nEnvironment=A=1  B=2\nFoo Bar = x\n",
			want: []entry{
				e("Service", "Environment", "A=1  B=2", 2),
				e("Service", "Foo Bar", "x", 3),
			},
		},
		{
			name: "only space and tab and CR and LF are whitespace",
			in:   "[Socket]\nBacklog=\v1\f\n",
			want: []entry{e("Socket", "Backlog", "\v1\f", 2)},
		},
		{
			name: "empty value",
			in:   "[Socket]\nListenStream=\nListenStream=  \n",
			want: []entry{e("Socket", "ListenStream", "", 2), e("Socket", "ListenStream", "", 3)},
		},
		{
			name: "quotes and escapes are left alone",
			in:   "[Service]\nExecStart=/bin/echo \"a b\" 'c' \\t %n\n",
			want: []entry{e("Service", "ExecStart", `/bin/echo "a b" 'c' \t %n`, 2)},
		},
		{
			name: "comments with hash and semicolon, indented or not",
			in:   "# c\n[Socket]\n; c\n  # c\n\t; c\nListenStream=80\n",
			want: []entry{e("Socket", "ListenStream", "80", 6)},
		},
		{
			name: "a hash after the start of a line is part of the value",
			in:   "[Socket]\nListenStream=80 # not a comment\n",
			want: []entry{e("Socket", "ListenStream", "80 # not a comment", 2)},
		},
		{
			name: "continuation replaces the backslash with a space and keeps indentation",
			in:   "[Service]\nExecStart=/bin/echo a \\\n    b\\\nc\nUser=x\n",
			want: []entry{
				ec("Service", "ExecStart", "/bin/echo a      b c", 2, 4),
				e("Service", "User", "x", 5),
			},
		},
		{
			name: "comment lines inside a continuation are skipped",
			in:   "[Socket]\nAccept=ma\\\n#comment\n  ; other \\\n  ybe\n",
			want: []entry{ec("Socket", "Accept", "ma   ybe", 2, 5)},
		},
		{
			name: "a comment ending in a backslash does not continue",
			in:   "[Socket]\n# c \\\nAccept=yes\n",
			want: []entry{e("Socket", "Accept", "yes", 3)},
		},
		{
			name: "a blank line ends a continuation",
			in:   "[Socket]\nAccept=ma\\\n\nybe\n",
			want: []entry{ec("Socket", "Accept", "ma", 2, 3)},
			errs: []string{`u.socket:4: missing '=': "ybe"`},
		},
		{
			name: "a line of blanks and a backslash continues",
			in:   "[Socket]\nAccept=a\\\n  \\\nc\n",
			want: []entry{ec("Socket", "Accept", "a    c", 2, 4)},
		},
		{
			name: "an escaped backslash does not continue",
			in:   "[Socket]\nAccept=yes\\\\\nBacklog=1\n",
			want: []entry{e("Socket", "Accept", `yes\\`, 2), e("Socket", "Backlog", "1", 3)},
		},
		{
			name: "three backslashes continue and keep two",
			in:   "[Socket]\nAccept=ma\\\\\\\nybe\n",
			want: []entry{ec("Socket", "Accept", `ma\\ ybe`, 2, 3)},
		},
		{
			name: "a backslash at the end of the file",
			in:   "[Socket]\nAccept=ma\\\nybe\\",
			want: []entry{ec("Socket", "Accept", "ma ybe", 2, 4)},
		},
		{
			name: "a backslash and newline at the end of the file",
			in:   "[Socket]\nAccept=yes\\\n",
			want: []entry{ec("Socket", "Accept", "yes", 2, 3)},
		},
		{
			name: "a continued section header",
			in:   "[Soc\\\nket]\nA=1\n",
			want: []entry{e("Soc ket", "A", "1", 3)},
		},
		{
			name: "repeated sections keep file order",
			in:   "[Socket]\nA=1\n[Unit]\nB=2\n[Socket]\nC=3\n",
			want: []entry{e("Socket", "A", "1", 2), e("Unit", "B", "2", 4), e("Socket", "C", "3", 6)},
		},
		{
			name: "unknown sections are passed on",
			in:   "[X-Foo]\nA=1\n[Bar]\nB=2\n",
			want: []entry{e("X-Foo", "A", "1", 2), e("Bar", "B", "2", 4)},
		},
		{
			name: "whitespace around a header is trimmed, inside it is kept",
			in:   "  [Socket]  \n[ Unit ]\nA=1\n",
			want: []entry{e(" Unit ", "A", "1", 3)},
		},
		{
			name: "CRLF, CR and LFCR all end one line",
			in:   "[Socket]\r\nA=1\r\nB=2\rC=3\n\rD=4\r\r\nE=5\n",
			want: []entry{
				e("Socket", "A", "1", 2), e("Socket", "B", "2", 3), e("Socket", "C", "3", 4),
				e("Socket", "D", "4", 5), e("Socket", "E", "5", 7),
			},
		},
		{
			name: "CRLF after a continuation",
			in:   "[Socket]\r\nA=a\\\r\n  b\r\n",
			want: []entry{ec("Socket", "A", "a   b", 2, 3)},
		},
		{
			name: "a byte order mark at the start is skipped",
			in:   "\ufeff[Socket]\nA=1\n",
			want: []entry{e("Socket", "A", "1", 2)},
		},
		{
			name: "a byte order mark is skipped on a later line until one was seen",
			in:   "[Socket]\n\ufeffA=1\n\ufeffB=2\n",
			want: []entry{e("Socket", "A", "1", 2), e("Socket", "\ufeffB", "2", 3)},
		},
		{
			name: "a comment behind a byte order mark is not a comment",
			in:   "[Socket]\n\ufeff# c\n",
			errs: []string{`u.socket:2: missing '=': "# c"`},
		},
		{
			name: "assignment before any section",
			in:   "Accept=yes\n\n[Socket]\nA=1\n",
			want: []entry{e("Socket", "A", "1", 4)},
			errs: []string{`u.socket:1: assignment outside of any section: "Accept=yes"`},
		},
		{
			name: "missing equals",
			in:   "[Socket]\nA=1\nmissing equals\nB=2\n",
			want: []entry{e("Socket", "A", "1", 2), e("Socket", "B", "2", 4)},
			errs: []string{`u.socket:3: missing '=': "missing equals"`},
		},
		{
			name: "missing key",
			in:   "[Socket]\n  = 1\n",
			errs: []string{`u.socket:2: missing key name before '='`},
		},
		{
			name: "garbage after the header",
			in:   "[Socket] x\nA=1\n[Unit]\nB=2\n",
			want: []entry{e("Unit", "B", "2", 4)},
			errs: []string{`u.socket:1: invalid section header "[Socket] x"`},
		},
		{
			name: "unterminated header",
			in:   "[Socket\nA=1\n",
			errs: []string{`u.socket:1: invalid section header "[Socket"`},
		},
		{
			name: "bad characters in a header",
			in:   "[Sock\"et]\nA=1\n[Sock\x7fet]\n[a\\b]\n[Sock\tet]\n",
			errs: []string{
				`u.socket:1: bad characters in section header "[Sock\"et]"`,
				`u.socket:3: bad characters in section header "[Sock\x7fet]"`,
				`u.socket:4: bad characters in section header "[a\\b]"`,
				`u.socket:5: bad characters in section header "[Sock\tet]"`,
			},
		},
		{
			name: "non-ASCII header",
			in:   "[Sockét]\nA=1\n",
			want: []entry{e("Sockét", "A", "1", 2)},
		},
		{
			name: "empty header",
			in:   "[]\nA=1\n",
			errs: []string{`u.socket:1: empty section name`},
		},
		{
			name: "assignment after a bad header is dropped without a second error",
			in:   "[Socket\nA=1\nB\n",
			errs: []string{`u.socket:1: invalid section header "[Socket"`},
		},
		{
			name: "invalid UTF-8",
			in:   "[Socket]\nAccept=\xff\nB=1\n",
			want: []entry{e("Socket", "B", "1", 3)},
			errs: []string{`u.socket:2: line is not valid UTF-8`},
		},
		{
			name: "NUL ends a line",
			in:   "[Socket]\nAccept=yes\x00\nB=1\nC=2\x00D=3\n",
			want: []entry{
				e("Socket", "Accept", "yes", 2), e("Socket", "B", "1", 4),
				e("Socket", "C", "2", 5), e("Socket", "D", "3", 6),
			},
			errs: []string{`u.socket:2: NUL byte in line`, `u.socket:5: NUL byte in line`},
		},
		{
			name: "errors of a continued line name its first line",
			in:   "[Socket]\nfoo\\\nbar\n",
			errs: []string{`u.socket:2: missing '=': "foo bar"`},
		},
		{
			name: "long values are shortened in messages",
			in:   "[Socket]\n" + strings.Repeat("é", 40) + "\n",
			errs: []string{`u.socket:2: missing '=': "` + strings.Repeat("é", 30) + `"…`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := lex("u.socket", []byte(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries:\ngot  %+v\nwant %+v", got, tt.want)
			}
			if msgs := errorTexts(errs); !reflect.DeepEqual(msgs, tt.errs) {
				t.Errorf("errors:\ngot  %q\nwant %q", msgs, tt.errs)
			}
		})
	}
}

func TestLexLineLength(t *testing.T) {
	head := "[Socket]\nAccept="
	longest := strings.Repeat("x", maxLineLen-len("Accept="))
	tests := []struct {
		name    string
		in      string
		entries int
		errs    []string
	}{
		{name: "longest line", in: head + longest + "\nB=1\n", entries: 2},
		{name: "longest line at EOF", in: head + longest, entries: 1},
		{
			name: "one byte too long",
			in:   head + longest + "x\nB=1\n",
			errs: []string{"u.socket:2: line is longer than 1048575 bytes"},
		},
		{
			name:    "longest continued line",
			in:      head + strings.Repeat("x", 100) + "\\\n" + strings.Repeat("y", longLineMax-len("Accept=")-101) + "\nB=1\n",
			entries: 2,
		},
		{
			name:    "continued line one byte too long",
			in:      "[Socket]\nA=1\n" + "Accept=" + strings.Repeat("x", 100) + "\\\n#c\n" + strings.Repeat("y", longLineMax-len("Accept=")-100) + "\nB=1\n",
			entries: 1,
			errs:    []string{"u.socket:3: continued line is longer than 1048576 bytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := lex("u.socket", []byte(tt.in))
			if len(got) != tt.entries {
				t.Errorf("got %d entries; want %d", len(got), tt.entries)
			}
			if msgs := errorTexts(errs); !reflect.DeepEqual(msgs, tt.errs) {
				t.Errorf("errors:\ngot  %q\nwant %q", msgs, tt.errs)
			}
		})
	}
}

func TestNextLine(t *testing.T) {
	tests := []struct {
		in   string
		want []string // lines, with "+NUL" appended when the terminator held a NUL
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"\n\n", []string{"", ""}},
		{"a\r\nb", []string{"a", "b"}},
		{"a\n\rb", []string{"a", "b"}},
		{"a\r\rb", []string{"a", "", "b"}},
		{"a\r\n\x00b", []string{"a+NUL", "b"}},
		{"a\x00\nb", []string{"a+NUL", "", "b"}},
		{"a\n\x00\x00", []string{"a+NUL", "+NUL"}},
	}
	for _, tt := range tests {
		var got []string
		for data := []byte(tt.in); len(data) > 0; {
			line, rest, nul := nextLine(data)
			s := string(line)
			if nul {
				s += "+NUL"
			}
			got = append(got, s)
			data = rest
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("nextLine(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

func errorTexts(errs []error) []string {
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	return msgs
}

func TestLexAssignments(t *testing.T) {
	got, err := Lex("u.socket", []byte("[Socket]\nListenStream = 80 \\\n  81\nbad\n"))
	want := []units.Assignment{{
		Section: "Socket", Directive: "ListenStream", Value: "80    81",
		Pos: units.Position{File: "u.socket", Line: 2, Directive: "[Socket] ListenStream"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if err == nil || err.Error() != `u.socket:4: missing '=': "bad"` {
		t.Errorf("err = %v", err)
	}
	if _, err := Lex("u.socket", []byte("[Socket]\nA=1\n")); err != nil {
		t.Errorf("err = %v; want nil", err)
	}
}
