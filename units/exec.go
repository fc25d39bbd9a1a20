package units

import (
	"fmt"
	"strings"
)

// ParseCommands parses the value of an Exec*= directive into commands, as
// the "Command lines" section of systemd.service(5) defines it: words as
// SplitWords splits them, several commands separated by a lone ";" word
// ("\;" is a literal semicolon), and the prefixes "-" (ignore failure), "@"
// (the second word is argv[0]) and ":" (no environment expansion) in any
// order on the first word. The privilege prefixes "+", "!" and "!!" and
// the "|" shell prefix need PID 1's machinery and are refused by name.
func ParseCommands(value string) ([]Command, error) {
	words, err := SplitWords(value, true)
	if err != nil {
		return nil, err
	}
	var cmds []Command
	start := 0
	for i := 0; i <= len(words); i++ {
		if i < len(words) && words[i] != ";" {
			if words[i] == `\;` {
				words[i] = ";"
			}
			continue
		}
		if i == start {
			return nil, fmt.Errorf("empty command in %q", value)
		}
		cmd, err := parseCommand(words[start:i])
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, cmd)
		start = i + 1
	}
	return cmds, nil
}

// parseCommand builds one Command from its words, prefixes included.
func parseCommand(words []string) (Command, error) {
	var cmd Command
	first := words[0]
	argv0 := false
loop:
	for first != "" {
		switch {
		case strings.HasPrefix(first, "!!"):
			return cmd, fmt.Errorf("prefix \"!!\" (ambient capabilities) is not supported by sockd")
		case first[0] == '!':
			return cmd, fmt.Errorf("prefix \"!\" (privileged execution) is not supported by sockd")
		case first[0] == '+':
			return cmd, fmt.Errorf("prefix \"+\" (full privileges) is not supported by sockd")
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
	if !strings.HasPrefix(first, "/") && strings.Contains(first, "/") {
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

// String formats c back into one command line in systemd syntax.
func (c Command) String() string {
	var b strings.Builder
	if c.IgnoreFailure {
		b.WriteByte('-')
	}
	if c.NoEnvExpand {
		b.WriteByte(':')
	}
	argv := c.Argv
	if len(argv) == 0 || argv[0] != c.Path {
		b.WriteByte('@')
		b.WriteString(Quote(c.Path))
	} else {
		b.WriteString(Quote(c.Path))
		argv = argv[1:]
	}
	for _, w := range argv {
		b.WriteByte(' ')
		if w == ";" {
			w = `\;`
		}
		b.WriteString(Quote(w))
	}
	return b.String()
}
