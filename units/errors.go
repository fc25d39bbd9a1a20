package units

import (
	"errors"
	"fmt"
	"strings"
)

// Position says where a directive was written: the file, the line, and the
// directive as the file spells it ("[Socket] ListenStream" in a systemd
// unit, "listen_stream" in a TOML unit).
type Position struct {
	File      string
	Line      int
	Directive string
}

// String formats p as "path:line: directive", leaving out what is unknown.
func (p Position) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Directive != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(p.Directive)
	}
	return b.String()
}

// Positions maps a directive key (Key(section, directive), e.g.
// "Socket.ListenStream") to where it was last set. List directives also
// record each element under "Socket.ListenStream#N".
type Positions map[string]Position

// Key returns the key Positions uses for a systemd section and directive.
func Key(section, directive string) string { return section + "." + directive }

// ElemKey returns the key Positions uses for element i of a list directive.
func ElemKey(section, directive string, i int) string {
	return fmt.Sprintf("%s.%s#%d", section, directive, i)
}

// Error is one problem with a unit, at a position.
type Error struct {
	Pos Position
	Err error
}

func (e *Error) Error() string {
	if s := e.Pos.String(); s != "" {
		return s + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at pos with a formatted reason.
func Errorf(pos Position, format string, args ...any) error {
	return &Error{Pos: pos, Err: fmt.Errorf(format, args...)}
}

// ErrorList is every problem found in one pass, in the order found. Its
// Error method prints one per line.
type ErrorList []error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, err := range l {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap gives errors.Is and errors.As access to every error in the list.
func (l ErrorList) Unwrap() []error { return l }

// Err returns nil for an empty list and the list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Errors flattens err into its individual errors: the elements of an
// ErrorList (recursively), or err itself.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	var l ErrorList
	if errors.As(err, &l) {
		var out []error
		for _, e := range l {
			out = append(out, Errors(e)...)
		}
		return out
	}
	return []error{err}
}
