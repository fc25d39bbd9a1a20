package units

import (
	"fmt"
	"strings"
)

// ParseCommands parses the value of an Exec*= directive into commands, as
// the "Command lines" section of systemd.service(5) defines it and
// systemd's config_parse_exec implements it: words as SplitWords splits
// them, and the prefixes "-" (ignore failure), "@" (the second word is
// argv[0]) and ":" (no environment expansion) in any order on the first
// word, and at most one of the privilege prefixes "+" (no sandbox, full
// privileges), "!" (no user switch) and "!!" (as "!" where the kernel has
// no ambient capabilities). The "|" shell prefix is refused by name.
//
// Several commands are separated by a ";" written as a word of its own.
// After the first word of a command only an unquoted ";" separates, and
// "\;" written as a word of its own is a literal ";" argument; a quoted
// ";" or "\\;" is an ordinary argument (";" and "\;"). Empty commands
// (a leading, trailing or doubled ";") are skipped, as systemd skips them.
func ParseCommands(value string) ([]Command, error) {
	var cmds []Command
	var words []string
	rest := value
	for {
		rest = strings.TrimLeft(rest, spaces)
		if rest == "" || len(words) > 0 && isRawWord(rest, ";") {
			if len(words) > 0 {
				cmd, err := parseCommand(words)
				if err != nil {
					return nil, err
				}
				cmds, words = append(cmds, cmd), nil
			}
			if rest == "" {
				return cmds, nil
			}
			rest = rest[1:]
			continue
		}
		if len(words) > 0 && isRawWord(rest, `\;`) {
			words, rest = append(words, ";"), rest[2:]
			continue
		}
		// The first word of a command has strict escapes; the others
		// keep unknown escapes as written.
		w, n, err := nextWord(rest, len(words) > 0)
		if err != nil {
			return nil, err
		}
		rest = rest[n:]
		if len(words) == 0 && w == ";" {
			continue // a lone ";" where a command starts: an empty command
		}
		words = append(words, w)
	}
}

// isRawWord reports whether s starts with the word w as written, followed
// by whitespace or the end.
func isRawWord(s, w string) bool {
	rest, ok := strings.CutPrefix(s, w)
	return ok && (rest == "" || isSpace(rest[0]))
}

// parseCommand builds one Command from its words, prefixes included.
func parseCommand(words []string) (Command, error) {
	var cmd Command
	first := words[0]
	argv0 := false
loop:
	for first != "" {
		switch {
		case strings.HasPrefix(first, "!!") && cmd.Privilege == PrivNormal:
			cmd.Privilege = PrivAmbientFB
			first = first[1:]
		case (first[0] == '!' || first[0] == '+') && cmd.Privilege == PrivNormal:
			cmd.Privilege = Privilege(first[:1])
		case first[0] == '!' || first[0] == '+':
			return cmd, fmt.Errorf("at most one of the prefixes \"+\", \"!\" and \"!!\" may be used")
		case first[0] == '|':
			return cmd, fmt.Errorf("prefix \"|\" (login shell) is not supported by sockd")
		case first[0] == '-' && !cmd.IgnoreFailure:
			cmd.IgnoreFailure = true
		case first[0] == '@' && !argv0:
			argv0 = true
		case first[0] == ':' && !cmd.NoEnvExpand:
			cmd.NoEnvExpand = true
		default:
			break loop
		}
		first = first[1:]
	}
	if first == "" {
		return cmd, fmt.Errorf("empty executable path")
	}
	if strings.HasSuffix(first, "/") {
		return cmd, fmt.Errorf("executable path %q is a directory", first)
	}
	if !strings.HasPrefix(first, "/") && (strings.Contains(first, "/") || first == "." || first == "..") {
		return cmd, fmt.Errorf("executable path %q is neither absolute nor a bare file name", first)
	}
	cmd.Path = first
	rest := words[1:]
	if argv0 {
		if len(rest) == 0 {
			return cmd, fmt.Errorf("prefix \"@\" needs argv[0] after the executable path")
		}
		cmd.Argv = append([]string{}, rest...)
	} else {
		cmd.Argv = append([]string{first}, rest...)
	}
	return cmd, nil
}

// String formats c back into one command line in systemd syntax;
// ParseCommands gives c back. The prefixes are quoted together with the
// path ("-/opt/my app/run" is written "\"-/opt/my app/run\""), because a
// quote only opens a word at its start.
func (c Command) String() string {
	var b strings.Builder
	prefix := string(c.Privilege)
	if c.IgnoreFailure {
		prefix += "-"
	}
	if c.NoEnvExpand {
		prefix += ":"
	}
	argv := c.Argv
	// A path that starts with "@" can only have been written after the
	// "@" prefix, which its own "@" would otherwise be read as.
	if len(argv) == 0 || argv[0] != c.Path || strings.HasPrefix(c.Path, "@") {
		prefix += "@"
	} else {
		argv = argv[1:]
	}
	b.WriteString(Quote(prefix + c.Path))
	for _, w := range argv {
		b.WriteByte(' ')
		if w == ";" {
			b.WriteString(`\;`) // a bare ";" would separate commands
			continue
		}
		b.WriteString(Quote(w))
	}
	return b.String()
}
