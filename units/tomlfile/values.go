package tomlfile

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sockd/sockd/units"
)

// modeDirectives take an octal file mode, which TOML has no integer for
// (660 is decimal and 0o660 cannot be told from 432): they take a string.
var modeDirectives = map[string]bool{"SocketMode": true, "DirectoryMode": true, "UMask": true}

// numericStrings are string directives whose values include numbers, so
// that they also take a TOML integer.
var numericStrings = map[string]string{
	"IPTOS":       `an integer 0…255 or a name such as "low-delay"`,
	"LimitNOFILE": `an integer, or a string such as "1024:65536" or "infinity"`,
	"KillSignal":  `a signal name such as "SIGTERM" or a number`,
}

// convert turns the TOML value of a key that sets directive d into values
// in systemd syntax, one for each assignment to apply.
func convert(d units.DirectiveInfo, v any) ([]string, error) {
	switch {
	case d.Section == "Service" && d.Name == "Environment":
		return environment(d, v)
	case d.Repeatable():
		return list(d, v)
	}
	s, err := scalar(d, v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// scalar converts the value of a directive that is set once.
func scalar(d units.DirectiveInfo, v any) (string, error) {
	if modeDirectives[d.Name] {
		return mode(v)
	}
	n, isInt := v.(int64)
	s, isString := v.(string)
	switch d.Kind {
	case units.KindBool:
		b, ok := v.(bool)
		if !ok {
			return "", want("a boolean (true or false)", v)
		}
		if b {
			return "yes", nil
		}
		return "no", nil
	case units.KindInt:
		if isInt {
			return strconv.FormatInt(n, 10), nil
		}
		return "", want("an integer", v)
	case units.KindSize, units.KindTimespan:
		switch {
		case isInt:
			return strconv.FormatInt(n, 10), nil
		case isString:
			return s, nil
		case d.Kind == units.KindSize:
			return "", want(`a size: an integer number of bytes, or a string such as "64K"`, v)
		}
		return "", want(`a time span: a string such as "90s" or "1min 30s", or an integer number of seconds`, v)
	}
	if what, ok := numericStrings[d.Name]; ok {
		if isInt {
			return strconv.FormatInt(n, 10), nil
		}
		if !isString {
			return "", want(what, v)
		}
	}
	if !isString {
		return "", want("a string", v)
	}
	return s, nil
}

// mode converts the value of a file mode directive.
func mode(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return "", fmt.Errorf(`want an octal mode as a string such as "0660", got integer %d: TOML integers are not read as octal`, x)
	}
	return "", want(`an octal mode as a string such as "0660"`, v)
}

// list converts the value of a repeatable directive: an array, or a
// single element. Each element becomes one assignment; a word of a list
// directive (Documentation=, Symlinks=, SupplementaryGroups=) is quoted so
// that it stays one word.
func list(d units.DirectiveInfo, v any) ([]string, error) {
	items, isArray := v.([]any)
	if !isArray {
		items = []any{v}
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := element(d, item)
		switch {
		case ok:
			out = append(out, s)
		case item == "" && isArray:
			return nil, fmt.Errorf("element %d is an empty string", i+1)
		case item == "":
			return nil, errors.New("empty string; leave the key out instead")
		case isArray:
			return nil, fmt.Errorf("element %d: %w", i+1, want(elementKind(d), item))
		default:
			return nil, want(elementKind(d)+" or an array of them", v)
		}
	}
	return out, nil
}

// element converts one element of a repeatable directive, or reports that
// it has the wrong type or is empty.
func element(d units.DirectiveInfo, v any) (string, bool) {
	switch x := v.(type) {
	case string:
		switch {
		case x == "":
			return "", false
		case d.Kind == units.KindList:
			return units.Quote(x), true
		}
		return x, true
	case int64:
		if d.Kind == units.KindAddress {
			return strconv.FormatInt(x, 10), true
		}
	}
	return "", false
}

// elementKind says what an element of a repeatable directive must be.
func elementKind(d units.DirectiveInfo) string {
	switch d.Kind {
	case units.KindAddress:
		return "an address (a string, or an integer port)"
	case units.KindCommand:
		return "a command line (a string)"
	}
	return "a string"
}

// environment converts the value of environment: NAME=VALUE strings like
// a list directive, or a table of names and values, applied in the order
// of the names.
func environment(d units.DirectiveInfo, v any) ([]string, error) {
	table, ok := v.(map[string]any)
	if !ok {
		return list(d, v)
	}
	names := make([]string, 0, len(table))
	for name := range table {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, name := range names {
		if name == "" || strings.ContainsAny(name, "= \t\n") {
			return nil, fmt.Errorf("invalid variable name %q", name)
		}
		var value string
		switch x := table[name].(type) {
		case string:
			value = x
		case int64:
			value = strconv.FormatInt(x, 10)
		default:
			return nil, fmt.Errorf("%s: %w", name, want("a string or an integer", x))
		}
		out = append(out, units.Quote(name+"="+value))
	}
	return out, nil
}

// want says that a value has the wrong type.
func want(what string, got any) error {
	return fmt.Errorf("want %s, got %s", what, describe(got))
}

// describe names the TOML type of a decoded value, and the value when
// it is short.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			return "a string"
		}
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return "a date-time"
}
