package units

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SplitWords splits a value into words the way systemd's
// extract_first_word does with EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE, as
// systemd.syntax(7) and the "Command lines" section of systemd.service(5)
// describe: words are separated by whitespace; a double or single quote
// opens a quoted section, anywhere in a word as in extract_first_word, that
// runs to the matching quote; C-style escapes (\n, \t, \xNN, \NNN, \uXXXX,
// \UXXXXXXXX, \s, \\, \", \') are decoded in and outside quotes. With
// relaxed, an unknown escape is kept as written instead of being an error
// (systemd relaxes escapes for every word of a command line but the first).
func SplitWords(s string, relaxed bool) ([]string, error) {
	var words []string
	rest := s
	for {
		rest = strings.TrimLeft(rest, " \t\n\r")
		if rest == "" {
			return words, nil
		}
		w, n, err := nextWord(rest, relaxed && len(words) > 0)
		if err != nil {
			return nil, err
		}
		words = append(words, w)
		rest = rest[n:]
	}
}

// nextWord reads one word from the start of s (which is not whitespace)
// and returns it and the number of bytes consumed. As in systemd's
// extract_first_word, a quote opens a quoted section anywhere in a word
// (so --name="a b" is one word, --name=a b) and the word goes on after the
// closing quote.
func nextWord(s string, relaxed bool) (string, int, error) {
	var b strings.Builder
	var quote byte
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case quote == 0 && isSpace(c):
			return b.String(), i, nil
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
			i++
		case quote != 0 && c == quote:
			quote = 0
			i++
		case c == '\\':
			r, n, err := unescape(s[i:], relaxed)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(r)
			i += n
		default:
			b.WriteByte(c)
			i++
		}
	}
	if quote != 0 {
		return "", 0, fmt.Errorf("unbalanced quoting: %q", s)
	}
	return b.String(), i, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var simpleEscapes = map[byte]string{
	'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v",
	'\\': "\\", '"': "\"", '\'': "'", 's': " ",
}

// errEscape reports a malformed escape sequence.
var errEscape = errors.New("invalid escape sequence")

// unescape decodes the escape at the start of s ("\n", "\x41", …) and
// returns the text and the bytes consumed.
func unescape(s string, relaxed bool) (string, int, error) {
	if len(s) < 2 {
		if relaxed {
			return s, len(s), nil
		}
		return "", 0, fmt.Errorf("%w: trailing backslash", errEscape)
	}
	if r, ok := simpleEscapes[s[1]]; ok {
		return r, 2, nil
	}
	var digits, base, maxLen int
	switch c := s[1]; {
	case c == 'x':
		digits, base = 2, 16
	case c == 'u':
		digits, base = 4, 16
	case c == 'U':
		digits, base = 8, 16
	case c >= '0' && c <= '7':
		digits, base = 3, 8
	}
	start := 2
	if base == 8 {
		start = 1
	}
	maxLen = start + digits
	if base == 0 || len(s) < maxLen {
		if relaxed {
			return s[:2], 2, nil
		}
		return "", 0, fmt.Errorf("%w %q", errEscape, s[:max(2, min(len(s), maxLen))])
	}
	v, err := strconv.ParseUint(s[start:maxLen], base, 32)
	unicode := s[1] == 'u' || s[1] == 'U'
	// cunescape refuses NUL, octal bytes above \377 and code points that
	// are not valid (systemd's unichar_is_valid; Go cannot even encode a
	// surrogate). Like every other invalid escape, these are kept as
	// written in relaxed mode.
	if err != nil || v == 0 || !unicode && v > 255 || unicode && !utf8.ValidRune(rune(v)) {
		if relaxed {
			return s[:2], 2, nil
		}
		return "", 0, fmt.Errorf("%w %q", errEscape, s[:maxLen])
	}
	if unicode {
		return string(rune(v)), maxLen, nil
	}
	return string([]byte{byte(v)}), maxLen, nil
}

// Quote returns w as a single word in systemd syntax: unchanged when it
// needs no quoting, otherwise in double quotes with \ and " escaped.
// SplitWords(Quote(w)) gives back [w].
func Quote(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n\r\"'\\") {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
