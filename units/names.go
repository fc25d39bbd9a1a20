package units

import (
	"fmt"
	"strings"

	sdunit "github.com/coreos/go-systemd/v22/unit"
)

// UnitName is a parsed unit name such as "web.socket", "web@.service" or
// "web@1-127.0.0.1:80-127.0.0.1:4711.service" (systemd.unit(5)).
type UnitName struct {
	Prefix   string // the part before "@", or the whole name without the suffix
	Instance string // the part between "@" and the suffix
	Template bool   // the name has "@" (with or without an instance)
	Suffix   string // "socket", "service"
}

// ParseUnitName splits a unit name into its parts.
func ParseUnitName(name string) (UnitName, error) {
	if len(name) > 255 {
		return UnitName{}, fmt.Errorf("invalid unit name %q: longer than 255 bytes", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":-_.\\@", c) >= 0) {
			return UnitName{}, fmt.Errorf("invalid unit name %q: character %q is not allowed (systemd.unit(5))", name, c)
		}
	}
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || dot == len(name)-1 {
		return UnitName{}, fmt.Errorf("invalid unit name %q: no type suffix", name)
	}
	n := UnitName{Suffix: name[dot+1:]}
	stem := name[:dot]
	if at := strings.IndexByte(stem, '@'); at >= 0 {
		n.Prefix, n.Instance, n.Template = stem[:at], stem[at+1:], true
	} else {
		n.Prefix = stem
	}
	if n.Prefix == "" {
		return UnitName{}, fmt.Errorf("invalid unit name %q: empty prefix", name)
	}
	return n, nil
}

// String joins the parts back into a unit name.
func (n UnitName) String() string {
	if n.Template {
		return n.Prefix + "@" + n.Instance + "." + n.Suffix
	}
	return n.Prefix + "." + n.Suffix
}

// isTemplateName reports whether name is a template without an instance,
// such as "web@.service".
func isTemplateName(name string) bool {
	n, err := ParseUnitName(name)
	return err == nil && n.Template && n.Instance == ""
}

// InstanceName returns the name of instance inst of template name
// ("web@.service", "3-…") → "web@3-….service".
func InstanceName(template, inst string) string {
	n, err := ParseUnitName(template)
	if err != nil {
		return template
	}
	n.Instance, n.Template = inst, true
	return n.String()
}

// unescapeName undoes systemd-escape: "-" is "/", "\xNN" a byte.
func unescapeName(s string) string { return sdunit.UnitNameUnescape(s) }

// ValidFDName reports whether name may appear in LISTEN_FDNAMES or as an
// FDNAME= of sd_notify(3): at most 255 printable ASCII characters, without
// ":" (systemd's fdname_is_valid; the empty name is valid).
func ValidFDName(name string) bool {
	if len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}
