package control

import (
	"fmt"
	"strings"
)

// maxNameLen is systemd's UNIT_NAME_MAX.
const maxNameLen = 255

// CanonicalName returns the unit name as sockd knows it: a bare name
// ("web") means the socket unit ("web.socket"); otherwise the name must
// end in ".socket" or ".service" and be a valid systemd unit name.
func CanonicalName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("empty unit name")
	}
	if len(name) > maxNameLen {
		return "", fmt.Errorf("unit name too long (%d bytes, at most %d)", len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !validNameChar(c) {
			return "", fmt.Errorf("invalid unit name %q: character %q not allowed", name, c)
		}
	}
	suffix := ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		suffix = name[i+1:]
	}
	switch suffix {
	case "socket", "service":
	default:
		if strings.Contains(name, "@") || strings.Contains(name, ".") {
			return "", fmt.Errorf("invalid unit name %q: sockd has only .socket and .service units", name)
		}
		name += ".socket"
		if len(name) > maxNameLen { // found by FuzzCanonicalName
			return "", fmt.Errorf("unit name too long (%d bytes with .socket, at most %d)", len(name), maxNameLen)
		}
	}
	stem := name[:strings.LastIndexByte(name, '.')]
	if stem == "" || stem[0] == '@' {
		return "", fmt.Errorf("invalid unit name %q: empty prefix", name)
	}
	if strings.Count(stem, "@") > 1 {
		return "", fmt.Errorf("invalid unit name %q: more than one @", name)
	}
	return name, nil
}

// validNameChar reports whether c may appear in a unit name
// (systemd's VALID_CHARS plus "@" and ".").
func validNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte(":-_.\\@", c) >= 0
}
