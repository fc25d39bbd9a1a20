package condition

import (
	"fmt"
	"strings"
	"unicode"
)

// The comparison operators of ConditionKernelVersion=, ConditionMemory=,
// ConditionCPUs= and ConditionOSRelease=, longest first.
var operators = []string{"<=", ">=", "!=", "<", ">", "="}

// cutOperator splits "OP VALUE"; op is "" without one.
func cutOperator(s string) (op, value string) {
	s = strings.TrimSpace(s)
	for _, o := range operators {
		if v, ok := strings.CutPrefix(s, o); ok {
			return o, strings.TrimSpace(v)
		}
	}
	return "", s
}

// holds applies op to the result of a comparison (-1, 0, 1).
func holds(op string, cmp int) (bool, error) {
	switch op {
	case "<":
		return cmp < 0, nil
	case "<=":
		return cmp <= 0, nil
	case "=":
		return cmp == 0, nil
	case "!=":
		return cmp != 0, nil
	case ">=":
		return cmp >= 0, nil
	case ">":
		return cmp > 0, nil
	}
	return false, fmt.Errorf("unknown operator %q", op)
}

// versionCompare compares versions as strverscmp(3) and systemd's
// strverscmp_improved roughly do: runs of digits numerically, other
// characters one by one.
func versionCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		switch {
		case da > 0 && db > 0:
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return sign(len(na) - len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
		case a[0] != b[0]:
			return sign(int(a[0]) - int(b[0]))
		default:
			a, b = a[1:], b[1:]
		}
	}
	return sign(len(a) - len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && unicode.IsDigit(rune(s[n])) {
		n++
	}
	return n
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
