package tomlfile

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sockd/sockd/units"
)

// The tables of a TOML unit and the systemd section each one holds.
// [Unit] Description= and Documentation= are keys of both: they describe
// the socket in [socket] and the service in [service].
var tableSections = map[string]string{"socket": "Socket", "service": "Service"}

// snakeExceptions spells the directives whose acronyms the generic rule
// of snake would split in the wrong place.
var snakeExceptions = map[string]string{
	"BindIPv6Only": "bind_ipv6_only",
	"IPTOS":        "ip_tos",
	"IPTTL":        "ip_ttl",
	"UMask":        "umask",
}

// snake returns the TOML key for a systemd directive name: words are
// lowercased and joined by "_", a word starting at each capital that
// follows a lowercase letter or digit, or that starts a capitalized word
// after an acronym ("TCPCongestion" → "tcp_congestion").
func snake(name string) string {
	if s, ok := snakeExceptions[name]; ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isUpper(c) && i > 0 {
			prev := name[i-1]
			nextLower := i+1 < len(name) && isLower(name[i+1])
			if isLower(prev) || isDigit(prev) || isUpper(prev) && nextLower {
				b.WriteByte('_')
			}
		}
		if isUpper(c) {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// keyTables maps each table to its keys and the directive each one sets.
var keyTables = sync.OnceValue(func() map[string]map[string]units.DirectiveInfo {
	t := make(map[string]map[string]units.DirectiveInfo)
	for table, section := range tableSections {
		t[table] = make(map[string]units.DirectiveInfo)
		for _, d := range units.Directives() {
			if d.Section == section || d.Section == "Unit" {
				t[table][snake(d.Name)] = d
			}
		}
	}
	return t
})

// KeyFor returns the TOML key that sets a directive sockd understands
// ("listen_stream" for section "Socket", directive "ListenStream"), or ""
// for a directive that is not in units.Directives().
func KeyFor(section, directive string) string {
	if _, ok := units.LookupDirective(section, directive); !ok {
		return ""
	}
	return snake(directive)
}

// Directive returns the directive a key of a table ("socket" or
// "service") sets.
func Directive(table, key string) (units.DirectiveInfo, bool) {
	d, ok := keyTables()[table][key]
	return d, ok
}

// Keys returns the keys of a table, sorted.
func Keys(table string) []string {
	keys := make([]string, 0, len(keyTables()[table]))
	for k := range keyTables()[table] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// otherKey is a systemd directive sockd does not take: one it refuses as
// unsupported, or one it ignores in systemd units because it only matters
// to PID 1's dependencies or to `systemctl enable`.
type otherKey struct {
	section, name string
	ignored       bool
}

// otherKeys maps the TOML spelling of those directives, per section, to
// the directive, to explain them.
var otherKeys = sync.OnceValue(func() map[string]map[string]otherKey {
	m := make(map[string]map[string]otherKey)
	add := func(section string, names []string, ignored bool) {
		if m[section] == nil {
			m[section] = make(map[string]otherKey)
		}
		for _, n := range names {
			m[section][snake(n)] = otherKey{section, n, ignored}
		}
	}
	for _, s := range []string{"Unit", "Socket", "Service"} {
		add(s, units.UnsupportedDirectives(s), false)
	}
	for _, s := range []string{"Unit", "Install"} {
		add(s, units.IgnoredDirectives[s], true)
	}
	return m
})

// unknownKey explains why key is not a key of table.
func unknownKey(table, key string) error {
	other := "socket"
	if table == "socket" {
		other = "service"
	}
	if _, ok := keyTables()[other][key]; ok {
		return fmt.Errorf("belongs in [%s], not [%s]", other, table)
	}
	for _, section := range []string{tableSections[table], "Unit", "Install", tableSections[other]} {
		o, ok := otherKeys()[section][key]
		switch {
		case !ok:
		case o.ignored:
			return fmt.Errorf("[%s] %s= means nothing to sockd, which has no dependencies or install step; remove it", o.section, o.name)
		default:
			return fmt.Errorf("[%s] %s= is not supported by sockd (see sockd.unit(5): man 5 sockd.unit)", o.section, o.name)
		}
	}
	if s := units.Suggest(key, Keys(table)); s != "" {
		return fmt.Errorf("unknown key; did you mean %s?", s)
	}
	return fmt.Errorf("unknown key")
}
