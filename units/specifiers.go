package units

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SpecifierEnv holds the values of the specifiers that do not depend on
// the unit (systemd.unit(5) "Specifiers"), as they apply to sockd: the
// user is the one running sockd.
type SpecifierEnv struct {
	RuntimeDir string // %t: /run for root, else $XDG_RUNTIME_DIR
	Home       string // %h
	User       string // %u
	UID        string // %U
	Group      string // %g
	GID        string // %G
	Hostname   string // %H; %l is its first label
	Kernel     string // %v
}

// DefaultSpecifierEnv fills a SpecifierEnv from the running process.
func DefaultSpecifierEnv() SpecifierEnv {
	env := SpecifierEnv{
		RuntimeDir: "/run",
		UID:        strconv.Itoa(os.Getuid()),
		GID:        strconv.Itoa(os.Getgid()),
		Home:       "/root",
		User:       "root",
		Group:      "root",
	}
	if os.Getuid() != 0 {
		env.RuntimeDir = os.Getenv("XDG_RUNTIME_DIR")
	}
	if u, err := user.LookupId(env.UID); err == nil {
		env.User, env.Home = u.Username, u.HomeDir
	}
	// $HOME wins over the user database, as with systemd's user manager
	// (get_home_dir()): it is what `go install` and the user see.
	if home := os.Getenv("HOME"); filepath.IsAbs(home) {
		env.Home = home
	}
	if g, err := user.LookupGroupId(env.GID); err == nil {
		env.Group = g.Name
	}
	env.Hostname, _ = os.Hostname()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		env.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	return env
}

// expandSpecifiers replaces the specifiers in s for the unit named unit.
// As in systemd's specifier_printf, a "%" at the very end or before a
// character that is not a letter or digit is kept as it is, and an
// unknown letter or digit is an error.
// With keepInstance, %i, %I, %n, %N and %% are left in place so that a
// template's values can be instantiated later (see Service.Instantiate):
// in systemd they name the instance, not the template.
//
// With words, s is a value that will be split into words (SplitWords,
// ParseCommands). systemd splits first and expands each word after, so a
// specifier's value is always part of one word, taken literally; to get
// the same result, each substituted value is escaped (see escapeWord).
func expandSpecifiers(s, unit string, env SpecifierEnv, keepInstance, words bool) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	n, err := ParseUnitName(unit)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		c := s[i]
		// Kept: the instance specifiers of a template, and "%" before
		// anything but a letter or digit, which systemd passes through.
		if keepInstance && strings.IndexByte("iInN%", c) >= 0 || c != '%' && !isAlnum(c) {
			b.WriteByte('%')
			b.WriteByte(c)
			continue
		}
		v, err := specifier(c, n, env)
		if err != nil {
			return "", err
		}
		if words {
			v = escapeWord(v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// escapeWord escapes the bytes of v that SplitWords or ParseCommands would
// otherwise interpret (whitespace, quotes, backslashes, ";") as \xNN, so
// that v reads back as the same literal text within one word.
func escapeWord(v string) string {
	if !strings.ContainsAny(v, " \t\n\r\"'\\;") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ' ', '\t', '\n', '\r', '"', '\'', '\\', ';':
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// specifier returns the value of one specifier letter.
func specifier(c byte, n UnitName, env SpecifierEnv) (string, error) {
	full := n.String()
	stem := strings.TrimSuffix(full, "."+n.Suffix)
	lastComponent := n.Prefix
	if i := strings.LastIndexByte(n.Prefix, '-'); i >= 0 {
		lastComponent = n.Prefix[i+1:]
	}
	switch c {
	case '%':
		return "%", nil
	case 'n':
		return full, nil
	case 'N':
		return stem, nil
	case 'p':
		return n.Prefix, nil
	case 'P':
		return unescapeName(n.Prefix), nil
	case 'i':
		return n.Instance, nil
	case 'I':
		return unescapeName(n.Instance), nil
	case 'j':
		return lastComponent, nil
	case 'J':
		return unescapeName(lastComponent), nil
	case 't':
		return env.RuntimeDir, nil
	case 'h':
		return env.Home, nil
	case 'u':
		return env.User, nil
	case 'U':
		return env.UID, nil
	case 'g':
		return env.Group, nil
	case 'G':
		return env.GID, nil
	case 'H':
		return env.Hostname, nil
	case 'l':
		host, _, _ := strings.Cut(env.Hostname, ".")
		return host, nil
	case 'v':
		return env.Kernel, nil
	case 'T':
		return "/tmp", nil
	case 'V':
		return "/var/tmp", nil
	case 'E':
		return "/etc", nil
	case 'S':
		return "/var/lib", nil
	case 'C':
		return "/var/cache", nil
	case 'L':
		return "/var/log", nil
	}
	return "", fmt.Errorf("unknown specifier %%%c", c)
}

// instantiateString expands %i, %I and %% for instance and, when name (the
// instance's unit name, "web@1.service") is set, %n and %N.
func instantiateString(s, name, instance string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; {
		case c == 'i':
			b.WriteString(instance)
		case c == 'I':
			b.WriteString(unescapeName(instance))
		case c == '%':
			b.WriteByte('%')
		case c == 'n' && name != "":
			b.WriteString(name)
		case c == 'N' && name != "":
			b.WriteString(name[:strings.LastIndexByte(name, '.')])
		default:
			b.WriteByte('%')
			b.WriteByte(c)
		}
	}
	return b.String()
}
