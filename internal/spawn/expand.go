package spawn

import (
	"fmt"
	"strings"

	"github.com/sockd/sockd/units"
)

// ExpandArgv expands environment variables in the words of an Exec*= line
// as systemd.service(5) "Command lines" describes (systemd's
// replace_env_argv):
//
//   - a word that is exactly "$NAME" is replaced by the value of NAME split
//     at whitespace, with quotes respected and removed, giving zero or more
//     words; an unset variable, or a name that is not valid, gives none;
//   - "${NAME}" anywhere in a word is replaced by the value as it is, so
//     the word stays one word; an unset variable gives "";
//   - "$$" is a literal "$"; any other "$" is kept as it is.
//
// env is a list of KEY=VALUE; the last assignment of a key wins. Callers
// skip ExpandArgv for a command with the ":" prefix (Command.NoEnvExpand).
//
// The expanded command line may hold at most MaxArgvBytes bytes (words
// and their NULs): past it, ExpandArgv stops expanding and returns
// ErrArgvTooLong, so that a line of many ${BIG} cannot take sockd's
// memory; the kernel would refuse such a line anyway (E2BIG).
func ExpandArgv(argv []string, env []string) ([]string, error) {
	out := make([]string, 0, len(argv))
	left := MaxArgvBytes
	add := func(w string) bool {
		left -= len(w) + 1
		out = append(out, w)
		return left >= 0
	}
	for _, w := range argv {
		if len(w) > 1 && w[0] == '$' && w[1] != '{' && w[1] != '$' {
			if name := w[1:]; units.ValidEnvName(name) {
				if v, ok := lookupEnv(env, name); ok {
					if len(v) > left {
						return nil, ErrArgvTooLong
					}
					for _, x := range splitUnquote(v) {
						if !add(x) {
							return nil, ErrArgvTooLong
						}
					}
				}
			}
			continue
		}
		if w == "$" {
			continue // "$" alone: an empty, invalid name; systemd drops it
		}
		x, ok := expandWord(w, env, left)
		if !ok || !add(x) {
			return nil, ErrArgvTooLong
		}
	}
	return out, nil
}

// MaxArgvBytes caps an expanded command line: 2 MiB, the kernel's
// ARG_MAX for the default 8 MiB stack (execve(2)).
const MaxArgvBytes = 2 << 20

// ErrArgvTooLong is ExpandArgv's error for a line past MaxArgvBytes.
var ErrArgvTooLong = fmt.Errorf("the command line expands to more than %d bytes (ARG_MAX)", MaxArgvBytes)

// expandWord replaces ${NAME} and $$ in one word (replace_env_full without
// flags: "$NAME" and "${NAME:-x}" are left alone). It gives up (false)
// once the word is longer than max.
func expandWord(w string, env []string, max int) (string, bool) {
	if strings.IndexByte(w, '$') < 0 {
		return w, len(w) <= max
	}
	var b strings.Builder
	for i := 0; i < len(w); {
		c := w[i]
		if c != '$' || i+1 == len(w) {
			b.WriteByte(c)
			i++
			continue
		}
		switch w[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexAny(w[i+2:], "}:")
			if end < 0 { // unterminated: literal
				b.WriteString(w[i:])
				return b.String(), b.Len() <= max
			}
			if w[i+2+end] == ':' {
				// The unsupported ${a:-b} form: literal up to the ":",
				// then scanning goes on, as in systemd.
				b.WriteString(w[i : i+2+end+1])
				i += 2 + end + 1
				continue
			}
			name := w[i+2 : i+2+end]
			if units.ValidEnvName(name) {
				v, _ := lookupEnv(env, name)
				if b.Len()+len(v) > max {
					return "", false
				}
				b.WriteString(v)
			}
			i += 2 + end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), b.Len() <= max
}

// lookupEnv returns the value of the last assignment of name in env.
func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		kv := env[i]
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return kv[len(name)+1:], true
		}
	}
	return "", false
}

// splitUnquote splits s at whitespace into words, removing single and
// double quotes and backslash escapes (systemd's extract_first_word with
// EXTRACT_UNQUOTE|EXTRACT_RELAX: unbalanced quotes end the word, a
// trailing backslash is dropped, "" makes an empty word).
func splitUnquote(s string) []string {
	var words []string
	var b strings.Builder
	inWord, quote, escaped := false, byte(0), false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			b.WriteByte(c)
			escaped = false
		case c == '\\':
			escaped, inWord = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words
}
