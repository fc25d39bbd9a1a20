package spawn

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/sockd/sockd/units"
)

// ParseEnvironmentFile parses the contents of an EnvironmentFile= in the
// format systemd.exec(5) describes (systemd's parse_env_file):
//
//   - one KEY=VALUE per line; blank lines, lines without "=", and lines
//     whose first non-blank character is "#" or ";" are ignored; there is
//     no "export" keyword ("export A=1" has the invalid name "export A");
//   - around the key and an unquoted value, blanks are trimmed; inside an
//     unquoted value, "\" keeps the next character and "\" at the end of
//     a line joins the next line; quotes after the first character are
//     kept;
//   - a value may be quoted: '…' keeps everything up to the next "'";
//     "…" handles "\" before one of "\`$ and a newline as a shell does,
//     and keeps any other "\" with the next character; both may span
//     lines, and quoted and unquoted parts may be concatenated;
//   - a later assignment of a key replaces the earlier one in place.
//
// Assignments whose key is not a valid variable name are left out and
// returned in invalid. A key or value that is not valid UTF-8 makes the
// whole file fail, as in systemd. Parsing stops at a NUL byte.
func ParseEnvironmentFile(data []byte) (env, invalid []string, err error) {
	if i := strings.IndexByte(string(data), 0); i >= 0 {
		data = data[:i]
	}
	var p envParser
	p.parse(string(data))
	index := map[string]int{}
	for _, kv := range p.out {
		if !utf8.ValidString(kv.key) || !utf8.ValidString(kv.value) {
			return nil, nil, fmt.Errorf("line %d: invalid UTF-8 in %q", kv.line, kv.key)
		}
		if !units.ValidEnvName(kv.key) {
			invalid = append(invalid, kv.key)
			continue
		}
		if i, ok := index[kv.key]; ok {
			env[i] = kv.key + "=" + kv.value
			continue
		}
		index[kv.key] = len(env)
		env = append(env, kv.key+"="+kv.value)
	}
	return env, invalid, nil
}

type envAssignment struct {
	key, value string
	line       int
}

type envState int

const (
	preKey envState = iota
	inKey
	preValue
	inValue
	valueEscape
	singleQuote
	doubleQuote
	doubleQuoteEscape
	comment
	commentEscape
)

// envParser is systemd's parse_env_file_internal state machine.
type envParser struct {
	state      envState
	key, value strings.Builder
	keyTrim    int // length of key before trailing blanks, -1 if none
	valueTrim  int // length of value before trailing blanks, -1 if none
	line       int
	out        []envAssignment
}

func isEnvBlank(c byte) bool   { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isEnvNewline(c byte) bool { return c == '\n' || c == '\r' }

func (p *envParser) parse(s string) {
	p.line = 1
	for i := 0; i < len(s); i++ {
		p.step(s[i])
	}
	switch p.state {
	case preValue, inValue, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape:
		p.push(p.state == inValue)
	}
}

func (p *envParser) push(trimValue bool) {
	key := p.key.String()
	if p.keyTrim >= 0 {
		key = key[:p.keyTrim]
	}
	value := p.value.String()
	if trimValue && p.valueTrim >= 0 {
		value = value[:p.valueTrim]
	}
	p.out = append(p.out, envAssignment{key, value, p.line})
	p.key.Reset()
	p.value.Reset()
}

// addValue appends c to the value, tracking trailing blanks if track.
func (p *envParser) addValue(c byte, track bool) {
	if track {
		if !isEnvBlank(c) {
			p.valueTrim = -1
		} else if p.valueTrim < 0 {
			p.valueTrim = p.value.Len()
		}
	}
	p.value.WriteByte(c)
}

func (p *envParser) step(c byte) {
	switch p.state {
	case preKey:
		if c == '#' || c == ';' {
			p.state = comment
		} else if !isEnvBlank(c) {
			p.state, p.keyTrim = inKey, -1
			p.key.WriteByte(c)
		}
	case inKey:
		switch {
		case isEnvNewline(c):
			p.state = preKey
			p.line++
			p.key.Reset()
		case c == '=':
			p.state, p.valueTrim = preValue, -1
		default:
			if !isEnvBlank(c) {
				p.keyTrim = -1
			} else if p.keyTrim < 0 {
				p.keyTrim = p.key.Len()
			}
			p.key.WriteByte(c)
		}
	case preValue:
		switch {
		case isEnvNewline(c):
			p.state = preKey
			p.push(false)
			p.line++
		case c == '\'':
			p.state = singleQuote
		case c == '"':
			p.state = doubleQuote
		case c == '\\':
			p.state = valueEscape
		case !isEnvBlank(c):
			p.state = inValue
			p.value.WriteByte(c)
		}
	default:
		p.stepValue(c)
	}
}

func (p *envParser) stepValue(c byte) {
	switch p.state {
	case inValue:
		switch {
		case isEnvNewline(c):
			p.state = preKey
			p.push(true)
			p.line++
		case c == '\\':
			p.state, p.valueTrim = valueEscape, -1
		default:
			p.addValue(c, true)
		}
	case valueEscape:
		p.state = inValue
		if !isEnvNewline(c) {
			p.value.WriteByte(c)
		}
	case singleQuote:
		if c == '\'' {
			p.state = preValue
		} else {
			p.value.WriteByte(c)
		}
	case doubleQuote:
		if c == '"' {
			p.state = preValue
		} else if c == '\\' {
			p.state = doubleQuoteEscape
		} else {
			p.value.WriteByte(c)
		}
	case doubleQuoteEscape:
		p.state = doubleQuote
		if strings.IndexByte("\"\\`$", c) >= 0 {
			p.value.WriteByte(c)
		} else if c != '\n' {
			p.value.WriteByte('\\')
			p.value.WriteByte(c)
		}
	case comment:
		if c == '\\' {
			p.state = commentEscape
		} else if isEnvNewline(c) {
			p.state = preKey
			p.line++
		}
	case commentEscape:
		if isEnvNewline(c) {
			p.state = preKey
			p.line++
		} else {
			p.state = comment
		}
	}
}

// LoadEnvironmentFiles reads EnvironmentFile= entries in order and
// returns their assignments, a later file overriding an earlier one. A
// path may be a glob; its matches are read in lexical order. A missing
// file (or a glob without match) is an error unless the entry is Optional;
// for an Optional entry, any error reading a file skips it, as in systemd.
// Invalid names are logged to log (nil means slog.Default()) and skipped.
func LoadEnvironmentFiles(files []units.EnvironmentFile, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.Default()
	}
	var env []string
	for _, f := range files {
		paths, err := filepath.Glob(f.Path)
		if err == nil && len(paths) == 0 {
			err = &fs.PathError{Op: "open", Path: f.Path, Err: fs.ErrNotExist}
		}
		if err != nil {
			if f.Optional {
				continue
			}
			return nil, fmt.Errorf("EnvironmentFile=%s: %w", f.Path, err)
		}
		for _, path := range paths {
			vars, err := loadEnvironmentFile(path, log)
			if err != nil {
				if f.Optional {
					continue
				}
				return nil, fmt.Errorf("EnvironmentFile=%s: %w", path, err)
			}
			env = MergeEnv(env, vars)
		}
	}
	return env, nil
}

func loadEnvironmentFile(path string, log *slog.Logger) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env, invalid, err := ParseEnvironmentFile(data)
	if err != nil {
		return nil, err
	}
	for _, key := range invalid {
		log.Warn("ignoring invalid environment assignment", "file", path, "key", key)
	}
	return env, nil
}

// MergeEnv merges lists of KEY=VALUE assignments: a key set in a later
// list (or later in the same list) overrides an earlier one and keeps the
// earlier one's position. Entries without "=" are dropped.
func MergeEnv(lists ...[]string) []string {
	var out []string
	index := map[string]int{}
	for _, l := range lists {
		for _, kv := range l {
			k, _, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			if i, ok := index[k]; ok {
				out[i] = kv
				continue
			}
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
