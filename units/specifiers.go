package units

import (
	"fmt"
	"os"
	"os/user"
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
		env.Home = os.Getenv("HOME")
	}
	if u, err := user.LookupId(env.UID); err == nil {
		env.User, env.Home = u.Username, u.HomeDir
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
// With keepInstance, %i, %I and %% are left in place so that a template's
// values can be instantiated later (see Service.Instantiate).
func expandSpecifiers(s, unit string, env SpecifierEnv, keepInstance bool) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	n, err := ParseUnitName(unit)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("lone %% at the end of %q", s)
		}
		i++
		c := s[i]
		if keepInstance && (c == 'i' || c == 'I' || c == '%') {
			b.WriteByte('%')
			b.WriteByte(c)
			continue
		}
		v, err := specifier(c, n, env)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
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

// InstantiateString expands the instance specifiers %i, %I and %% that a
// template kept in s.
func InstantiateString(s, instance string) string {
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
		switch s[i] {
		case 'i':
			b.WriteString(instance)
		case 'I':
			b.WriteString(unescapeName(instance))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
