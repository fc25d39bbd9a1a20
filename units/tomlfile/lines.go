package tomlfile

import (
	"strconv"
	"strings"
)

// The TOML decoder does not tell where a key was written (its MetaData
// keeps only the position of values, and a multi-line string's is where
// the string ends), so keyLines finds each key's line itself.

// keyLines returns the line (from 1) on which each key of a TOML document
// is first written: a table header names its table, "a.b = 1" names a.b
// (and a, if it was not named before). Keys are joined by pathKey. Keys
// inside inline tables and arrays are not listed.
//
// The document must be valid TOML, which the decoder checks first; on
// anything else keyLines still ends, but lines may be missing or wrong.
func keyLines(doc string) map[string]int {
	sc := lineScanner{s: doc, line: 1, lines: make(map[string]int)}
	sc.run()
	return sc.lines
}

// pathKey joins the parts of a key path into a key of keyLines' map.
func pathKey(parts ...string) string { return strings.Join(parts, "\x00") }

type lineScanner struct {
	s     string
	i     int // the next byte to read
	line  int // the line of s[i]
	lines map[string]int
}

// run reads the document: blank lines, comments, table headers and
// key/value pairs.
func (sc *lineScanner) run() {
	var table []string
	for sc.skipBlank(); sc.i < len(sc.s); sc.skipBlank() {
		start, line := sc.i, sc.line
		switch sc.s[sc.i] {
		case '#':
			sc.skipComment()
		case '[':
			sc.i++
			if sc.i < len(sc.s) && sc.s[sc.i] == '[' { // [[array of tables]]
				sc.i++
			}
			table = sc.key()
			sc.note(table, line)
			sc.skipComment() // the closing brackets and a comment
		default:
			key := sc.key()
			sc.note(append(table[:len(table):len(table)], key...), line)
			if sc.i < len(sc.s) && sc.s[sc.i] == '=' {
				sc.i++
				sc.value()
			}
		}
		if sc.i == start { // not TOML: skip a byte to make progress
			sc.i++
		}
	}
}

// note records the line of path and of its prefixes not seen before.
func (sc *lineScanner) note(path []string, line int) {
	for n := 1; n <= len(path); n++ {
		k := pathKey(path[:n]...)
		if _, ok := sc.lines[k]; !ok {
			sc.lines[k] = line
		}
	}
}

// key reads a dotted key such as `a . "b.c" . 'd'` and returns its parts.
func (sc *lineScanner) key() []string {
	var parts []string
	for {
		sc.skipSpace()
		parts = append(parts, sc.keyPart())
		sc.skipSpace()
		if sc.i >= len(sc.s) || sc.s[sc.i] != '.' {
			return parts
		}
		sc.i++
	}
}

// keyPart reads a bare or quoted key.
func (sc *lineScanner) keyPart() string {
	if sc.i >= len(sc.s) {
		return ""
	}
	switch sc.s[sc.i] {
	case '"':
		raw := sc.str()
		if s, err := strconv.Unquote(raw); err == nil {
			return s
		}
		return raw
	case '\'':
		raw := sc.str()
		return strings.TrimSuffix(raw[1:], "'")
	}
	start := sc.i
	for sc.i < len(sc.s) && strings.IndexByte(" \t\r\n.=[]\"'#", sc.s[sc.i]) < 0 {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// value skips a value, which ends at a newline outside strings, arrays
// and inline tables. The newline is left for run.
func (sc *lineScanner) value() {
	depth := 0
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '\n':
			if depth <= 0 {
				return
			}
			sc.line++
			sc.i++
		case '#':
			sc.skipComment()
		case '"', '\'':
			sc.str()
		case '[', '{':
			depth++
			sc.i++
		case ']', '}':
			depth--
			sc.i++
		default:
			sc.i++
		}
	}
}

// str skips the string starting at s[i] and returns it as written, quotes
// included: a basic or literal string, on one line or, with tripled
// quotes, on several.
func (sc *lineScanner) str() string {
	start, q := sc.i, sc.s[sc.i]
	escapes := q == '"'
	delim := strings.Repeat(string(q), 3)
	if strings.HasPrefix(sc.s[sc.i:], delim) {
		sc.i += 3
		for sc.i < len(sc.s) && !strings.HasPrefix(sc.s[sc.i:], delim) {
			sc.advance(escapes)
		}
		sc.i = min(sc.i+3, len(sc.s))
		// Up to two more quotes belong to the content: """a""""" is `a""`.
		for n := 0; n < 2 && sc.i < len(sc.s) && sc.s[sc.i] == q; n++ {
			sc.i++
		}
		return sc.s[start:sc.i]
	}
	sc.i++
	for sc.i < len(sc.s) && sc.s[sc.i] != q && sc.s[sc.i] != '\n' {
		sc.advance(escapes)
	}
	if sc.i < len(sc.s) && sc.s[sc.i] == q {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// advance moves past one character of a string, or an escape sequence's
// backslash and the character after it, counting newlines.
func (sc *lineScanner) advance(escapes bool) {
	if escapes && sc.s[sc.i] == '\\' && sc.i+1 < len(sc.s) {
		sc.i++
	}
	if sc.s[sc.i] == '\n' {
		sc.line++
	}
	sc.i++
}

// skipBlank skips whitespace and newlines.
func (sc *lineScanner) skipBlank() {
	for sc.i < len(sc.s) && strings.IndexByte(" \t\r\n", sc.s[sc.i]) >= 0 {
		if sc.s[sc.i] == '\n' {
			sc.line++
		}
		sc.i++
	}
}

// skipSpace skips spaces and tabs.
func (sc *lineScanner) skipSpace() {
	for sc.i < len(sc.s) && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t') {
		sc.i++
	}
}

// skipComment skips to the end of the line, leaving the newline.
func (sc *lineScanner) skipComment() {
	if n := strings.IndexByte(sc.s[sc.i:], '\n'); n >= 0 {
		sc.i += n
	} else {
		sc.i = len(sc.s)
	}
}
