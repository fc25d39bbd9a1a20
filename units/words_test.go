package units

import (
	"reflect"
	"strings"
	"testing"
)

// SplitWords follows systemd's extract_first_word rather than the stricter
// wording of systemd.syntax(7): a quote opens a quoted section anywhere in
// a word (`a"b c"d` is "ab cd"), and the word goes on after the closing
// quote. Real units rely on it (--name="a b"), so sockd reads them as
// systemd does.

func TestSplitWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" \t\n\r", nil},
		{"a", []string{"a"}},
		{"a b  c", []string{"a", "b", "c"}},
		{"\ta\nb\r c ", []string{"a", "b", "c"}},
		{`"a b" c`, []string{"a b", "c"}},
		{`'a b'`, []string{"a b"}},
		{`"it's"`, []string{"it's"}},
		{`'say "hi"'`, []string{`say "hi"`}},
		{`""`, []string{""}},
		{`"" x ''`, []string{"", "x", ""}},
		{`"a"	"b"`, []string{"a", "b"}},
		{`a"b c"`, []string{`ab c`}}, // quotes open anywhere in a word (see above)
		{`x='a b'`, []string{`x=a b`}},
		{`"a"b`, []string{`ab`}},
		{`x 'a'b c`, []string{"x", "ab", "c"}},
		{`--name="a b"d e`, []string{"--name=a bd", "e"}},
		// every escape of systemd.syntax(7), outside and inside quotes
		{`\a\b\f\n\r\t\v\\\"\'\s`, []string{"\a\b\f\n\r\t\v\\\"' "}},
		{`"\a\b\f\n\r\t\v\\\"\'\s"`, []string{"\a\b\f\n\r\t\v\\\"' "}},
		{`'\n'`, []string{"\n"}},
		{`\x41\x7e`, []string{"A~"}},
		{`\xff`, []string{"\xff"}}, // a byte, not a code point
		{`\101\040x`, []string{"A x"}},
		{`\377`, []string{"\xff"}},
		{`\u00e9\u20AC`, []string{"é€"}},
		{`\U0001F600`, []string{"😀"}},
		{`a\sb`, []string{"a b"}},
		{`a\tb "c\"d"`, []string{"a\tb", `c"d`}},
	}
	for _, c := range cases {
		for _, relaxed := range []bool{false, true} {
			got, err := SplitWords(c.in, relaxed)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("SplitWords(%q, %v) = %q, %v; want %q, nil", c.in, relaxed, got, err, c.want)
			}
		}
	}
}

func TestSplitWordsErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`"abc`, `unbalanced quoting: "\"abc"`},
		{`'abc`, `unbalanced quoting: "'abc"`},
		{`a "b`, `unbalanced quoting: "\"b"`},
		{`"a\"`, `unbalanced quoting: "\"a\\\""`},
		{`\q`, `invalid escape sequence "\\q"`},
		{`\ `, `invalid escape sequence "\\ "`},
		{`\x4`, `invalid escape sequence "\\x4"`},
		{`\x4g`, `invalid escape sequence "\\x4g"`},
		{`\x00`, `invalid escape sequence "\\x00"`}, // no NUL bytes
		{`\000`, `invalid escape sequence "\\000"`},
		{`\400`, `invalid escape sequence "\\400"`}, // above \377
		{`\18`, `invalid escape sequence "\\18"`},
		{`\u00`, `invalid escape sequence "\\u00"`},
		{`\u0000`, `invalid escape sequence "\\u0000"`},
		{`\uD800`, `invalid escape sequence "\\uD800"`}, // a surrogate
		{`\U00110000`, `invalid escape sequence "\\U00110000"`},
		{`a\`, `invalid escape sequence: trailing backslash`},
	}
	for _, c := range cases {
		_, err := SplitWords(c.in, false)
		if err == nil || err.Error() != c.want {
			t.Errorf("SplitWords(%q, false): got error %v; want %s", c.in, err, c.want)
		}
	}
}

// With relaxed, every word but the first keeps an invalid escape as
// written (EXTRACT_CUNESCAPE_RELAX); the first word stays strict.
func TestSplitWordsRelaxed(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`/bin/x \q`, []string{"/bin/x", `\q`}},
		{`/bin/x a\ b`, []string{"/bin/x", `a\ b`}},
		{`/bin/x \x4 \400 \uD800`, []string{"/bin/x", `\x4`, `\400`, `\uD800`}},
		{`/bin/x \x41\q`, []string{"/bin/x", `A\q`}},
		{`/bin/x a\`, []string{"/bin/x", `a\`}},
		{`/bin/x "\q"`, []string{"/bin/x", `\q`}},
	}
	for _, c := range cases {
		got, err := SplitWords(c.in, true)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitWords(%q, true) = %q, %v; want %q, nil", c.in, got, err, c.want)
		}
		if _, err := SplitWords(c.in, false); err == nil {
			t.Errorf("SplitWords(%q, false): got no error; want an invalid escape", c.in)
		}
	}
	if _, err := SplitWords(`\q x`, true); err == nil || err.Error() != `invalid escape sequence "\\q"` {
		t.Errorf(`SplitWords("\\q x", true): got error %v; want invalid escape sequence "\\q" (the first word is strict)`, err)
	}
	// Unbalanced quotes are an error in either mode.
	if _, err := SplitWords(`/bin/x "a`, true); err == nil || err.Error() != `unbalanced quoting: "\"a"` {
		t.Errorf(`SplitWords("/bin/x \"a", true): got error %v; want unbalanced quoting`, err)
	}
}

var quoteWords = []string{
	"", "a", "/usr/bin/env", "a b", `"`, `'`, `\`, `\;`, ";", "it's", `say "hi"`,
	"tab\there", "new\nline", "cr\rlf", " lead", "trail ", "é€😀", "\x00\x01\xff", "\v\f",
	`"quoted"`, `'single'`, `C:\path`, "%i", "$HOME",
}

func TestQuote(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a", "a"},
		{"/usr/bin/env", "/usr/bin/env"},
		{"", `""`},
		{"a b", `"a b"`},
		{`say "hi"`, `"say \"hi\""`},
		{`C:\path`, `"C:\\path"`},
		{"x\ty\nz\r", `"x\ty\nz\r"`},
		{"it's", `"it's"`},
	}
	for _, c := range cases {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %s; want %s", c.in, got, c.want)
		}
	}
	for _, w := range quoteWords {
		checkQuote(t, w)
	}
}

// checkQuote checks that Quote(w) reads back as the one word w, in both
// modes, and as part of a list.
func checkQuote(t *testing.T, w string) {
	t.Helper()
	q := Quote(w)
	for _, relaxed := range []bool{false, true} {
		got, err := SplitWords(q, relaxed)
		if err != nil || len(got) != 1 || got[0] != w {
			t.Errorf("SplitWords(Quote(%q) = %s, %v) = %q, %v; want [%q]", w, q, relaxed, got, err, w)
		}
	}
	got, err := SplitWords("x "+q+" y", false)
	if want := []string{"x", w, "y"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("SplitWords(%q) = %q, %v; want %q", "x "+q+" y", got, err, want)
	}
}

func FuzzQuote(f *testing.F) {
	for _, w := range quoteWords {
		f.Add(w)
	}
	f.Fuzz(func(t *testing.T, w string) { checkQuote(t, w) })
}

// FuzzSplitWords checks that SplitWords never panics and that quoting the
// words it returns and splitting again gives the same words.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{`a "b c" d`, `\x41 '\n' "\""`, `"a"b`, `'x`, `a\`, `\U0001F600 \uD800`, `/bin/x \q`} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, relaxed bool) {
		words, err := SplitWords(s, relaxed)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = Quote(w)
		}
		joined := strings.Join(quoted, " ")
		again, err := SplitWords(joined, false)
		if err != nil || len(again) != len(words) || len(words) > 0 && !reflect.DeepEqual(again, words) {
			t.Errorf("SplitWords(%q) = %q; re-quoted %s splits to %q, %v", s, words, joined, again, err)
		}
	})
}
