package systemdfile

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLex checks the lexer's invariants on any input; the seeds are in
// testdata/fuzz/FuzzLex. Run it with
//
//	go test -run='^$' -fuzz=FuzzLex -fuzztime=3m ./units/systemdfile/
func FuzzLex(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, errs := lex("f", data)
		lines := countLines(data)
		prev := 0
		for _, e := range entries {
			if e.line <= prev || e.line > lines || e.lastLine < e.line || e.lastLine > lines+1 {
				t.Fatalf("entry %+v out of order or outside lines 1…%d (previous at %d)", e, lines, prev)
			}
			prev = e.lastLine
			checkEntry(t, e)
		}
		for _, err := range errs {
			if line := errLineOf(err); line < 1 || line > lines {
				t.Fatalf("error %q is outside lines 1…%d", err, lines)
			}
		}
		checkRoundTrip(t, entries)
	})
}

// countLines counts the physical lines of data as the lexer splits them.
func countLines(data []byte) int {
	n := 0
	for len(data) > 0 {
		_, data, _ = nextLine(data)
		n++
	}
	return n
}

// checkEntry checks what every entry must look like.
func checkEntry(t *testing.T, e entry) {
	t.Helper()
	for _, s := range []string{e.section, e.key, e.value} {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\x00") {
			t.Fatalf("entry %+v holds invalid UTF-8 or a line break", e)
		}
	}
	if e.section == "" || !safeName(e.section) {
		t.Fatalf("entry %+v has a bad section name", e)
	}
	if e.key == "" || strings.Contains(e.key, "=") || strings.Trim(e.key, whitespace) != e.key {
		t.Fatalf("entry %+v has a bad key", e)
	}
	if strings.Trim(e.value, whitespace) != e.value {
		t.Fatalf("entry %+v has an untrimmed value", e)
	}
}

// checkRoundTrip writes the entries back as a unit file and checks that
// lexing it gives them back, without errors.
func checkRoundTrip(t *testing.T, entries []entry) {
	t.Helper()
	var b strings.Builder
	var want []entry
	for _, e := range entries {
		if strings.HasPrefix(e.key, "#") || strings.HasPrefix(e.key, ";") || strings.HasPrefix(e.key, utf8BOM) {
			continue // written out as a comment, or behind a byte order mark
		}
		value := e.value
		if endsInEscape(value) {
			value += " " // stops the backslash from continuing the line
		}
		b.WriteString("[" + e.section + "]\n" + e.key + "=" + value + "\n")
		line := 2 * (len(want) + 1)
		want = append(want, entry{section: e.section, key: e.key, value: e.value, line: line, lastLine: line})
	}
	got, errs := lex("g", []byte(b.String()))
	if len(errs) > 0 {
		t.Fatalf("writing back %q: %v", b.String(), errs)
	}
	if len(got) != len(want) {
		t.Fatalf("writing back %q: got %d entries; want %d", b.String(), len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("writing back %q: got %+v; want %+v", b.String(), got[i], want[i])
		}
	}
}
