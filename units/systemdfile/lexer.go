package systemdfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sockd/sockd/units"
)

// Limits on line length, as systemd's config_parse() applies them with
// read_line(f, LONG_LINE_MAX, …): a physical line fails once it holds
// LONG_LINE_MAX bytes, so the longest accepted is one byte less; a line
// joined from continuations may hold LONG_LINE_MAX bytes.
const (
	longLineMax = 1 << 20         // systemd's LONG_LINE_MAX: 1 MiB
	maxLineLen  = longLineMax - 1 // longest physical line, without its end-of-line bytes
)

const (
	whitespace = " \t\n\r" // systemd's WHITESPACE, stripped around lines, keys and values
	utf8BOM    = "\xef\xbb\xbf"
)

// Lex splits the content of the unit file at path into its assignments,
// following systemd.syntax(7) as systemd's config_parse() implements it
// (see the package doc). It returns every assignment it could read, and
// a units.ErrorList of the lines it could not, or nil.
func Lex(path string, data []byte) ([]units.Assignment, error) {
	entries, errs := lex(path, data)
	out := make([]units.Assignment, len(entries))
	for i, e := range entries {
		out[i] = e.assignment(path)
	}
	return out, errs.Err()
}

func (e entry) assignment(path string) units.Assignment {
	return units.Assignment{
		Section:   e.section,
		Directive: e.key,
		Value:     e.value,
		Pos:       units.Position{File: path, Line: e.line, Directive: "[" + e.section + "] " + e.key},
	}
}

// entry is one Key=Value assignment as the lexer found it.
type entry struct {
	section, key, value string
	line                int // the physical line the assignment starts on
	// lastLine is the physical line systemd attributes the assignment to:
	// the last line of a continuation, or one past the end of the file
	// when the file ends inside a continuation.
	lastLine int
}

// sectionState says what the lexer knows about the current section.
type sectionState int

const (
	noSection  sectionState = iota // no header yet: an assignment is an error
	inSection                      // after a valid header
	badSection                     // after an invalid header: assignments are dropped silently
)

// lexer holds the state of lexing one file.
type lexer struct {
	path    string
	entries []entry
	errs    units.ErrorList

	state   sectionState
	section string
	bomSeen bool

	cont     strings.Builder // the pending continuation, backslashes replaced by spaces
	contLine int             // the line the pending continuation starts on; 0 if none

	// firstLine maps the line systemd reports a continued logical line
	// at (see entry.lastLine) to the line sockd reports it at. Only the
	// differential test against systemd-analyze needs it.
	firstLine map[int]int
}

// lex splits the content of the unit file at path into assignments, the
// way systemd's config_parse() reads it (see the package doc). It returns
// every assignment it could read and every problem it found; it stops
// early only where systemd gives up on the file (a line too long).
func lex(path string, data []byte) ([]entry, units.ErrorList) {
	l := lexFile(path, data)
	return l.entries, l.errs
}

// lexFile lexes a file and returns the lexer with its results.
func lexFile(path string, data []byte) *lexer {
	l := &lexer{path: path}
	n := 0
	for len(data) > 0 {
		var line []byte
		var nul bool
		line, data, nul = nextLine(data)
		n++
		if nul {
			l.errorf(n, "NUL byte in line")
		}
		if !l.physical(n, line) {
			return l
		}
	}
	if l.contLine > 0 {
		// systemd parses a continuation left open at the end of the
		// file as if a line followed.
		l.logical(l.contLine, n+1, l.cont.String())
	}
	return l
}

// EOL bytes as systemd's read_line() knows them.
const (
	eolLF = 1 << iota
	eolCR
	eolNUL
)

func eolKind(c byte) int {
	switch c {
	case '\n':
		return eolLF
	case '\r':
		return eolCR
	case 0:
		return eolNUL
	}
	return 0
}

// nextLine splits the first line off data the way systemd's read_line()
// does: a line ends at a run of end-of-line bytes (\n, \r, NUL) in which
// each kind appears at most once and nothing follows a NUL, so "\r\n",
// "\n\r" and "\r\n\0" each end one line while "\n\n" ends two. It reports
// whether the line's terminator held a NUL byte.
func nextLine(data []byte) (line, rest []byte, nul bool) {
	i := bytes.IndexAny(data, "\n\r\x00")
	if i < 0 {
		return data, nil, false
	}
	seen := 0
	for j := i; j < len(data); j++ {
		k := eolKind(data[j])
		if k == 0 || seen&k != 0 || seen&eolNUL != 0 {
			return data[:i], data[j:], seen&eolNUL != 0
		}
		seen |= k
	}
	return data[:i], nil, seen&eolNUL != 0
}

// physical handles physical line n. It returns false when the file must
// be abandoned.
func (l *lexer) physical(n int, raw []byte) bool {
	if len(raw) > maxLineLen {
		l.errorf(n, "line is longer than %d bytes", maxLineLen)
		return false
	}
	s := string(raw)
	// Comment lines are skipped even inside a continuation, and they
	// never continue themselves. The check comes before the byte order
	// mark is removed, as in systemd.
	if t := strings.TrimLeft(s, whitespace); t != "" && (t[0] == '#' || t[0] == ';') {
		return true
	}
	if !l.bomSeen {
		// systemd removes a byte order mark from the start of any line
		// until it has seen one, not just from the first line.
		if rest, ok := strings.CutPrefix(s, utf8BOM); ok {
			s, l.bomSeen = rest, true
		}
	}
	if l.contLine > 0 && l.cont.Len()+len(s) > longLineMax {
		l.errorf(l.contLine, "continued line is longer than %d bytes", longLineMax)
		return false
	}
	continued := endsInEscape(s)
	if continued {
		s = s[:len(s)-1] + " "
	}
	if l.contLine == 0 {
		l.contLine = n
	}
	l.cont.WriteString(s)
	if continued {
		return true
	}
	l.logical(l.contLine, n, l.cont.String())
	l.cont.Reset()
	l.contLine = 0
	return true
}

// endsInEscape reports whether s ends in a backslash that is not itself
// escaped: an odd number of trailing backslashes.
func endsInEscape(s string) bool {
	k := len(s) - len(strings.TrimRight(s, `\`))
	return k%2 == 1
}

// logical handles one logical line: a blank line, a section header or an
// assignment. first is the physical line it starts on, last the one
// systemd reports it at.
func (l *lexer) logical(first, last int, s string) {
	if first != last {
		if l.firstLine == nil {
			l.firstLine = map[int]int{}
		}
		l.firstLine[last] = first
	}
	s = strings.Trim(s, whitespace)
	if s == "" {
		return
	}
	if !utf8.ValidString(s) {
		l.errorf(first, "line is not valid UTF-8")
		return
	}
	if s[0] == '[' {
		l.header(first, s)
		return
	}
	switch l.state {
	case noSection:
		l.errorf(first, "assignment outside of any section: %s", excerpt(s))
		return
	case badSection:
		return
	}
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		l.errorf(first, "missing '=': %s", excerpt(s))
		return
	}
	if key == "" {
		l.errorf(first, "missing key name before '='")
		return
	}
	l.entries = append(l.entries, entry{
		section:  l.section,
		key:      strings.Trim(key, whitespace),
		value:    strings.Trim(value, whitespace),
		line:     first,
		lastLine: last,
	})
}

// header handles a section header line s, which starts with "[".
func (l *lexer) header(n int, s string) {
	l.state = badSection
	if s[len(s)-1] != ']' {
		l.errorf(n, "invalid section header %s", excerpt(s))
		return
	}
	name := s[1 : len(s)-1]
	if !safeName(name) {
		l.errorf(n, "bad characters in section header %s", excerpt(s))
		return
	}
	if name == "" {
		l.errorf(n, "empty section name")
		return
	}
	l.state, l.section = inSection, name
}

// safeName reports whether a section name is free of control characters,
// quotes and backslashes (systemd's string_is_safe()).
func safeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c == 0x7f || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}

// excerpt quotes s for an error message, shortened when it is long.
func excerpt(s string) string {
	const max = 60
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}

func (l *lexer) errorf(line int, format string, args ...any) {
	l.errs = append(l.errs, units.Errorf(units.Position{File: l.path, Line: line}, format, args...))
}
