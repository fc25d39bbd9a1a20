package units

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// A setter applies one non-empty value (specifiers already expanded) to
// the unit. Empty values are handled by the directive's reset function.
type setter func(u *Unit, v string) error

func boolField(field func(u *Unit) *bool) setter {
	return func(u *Unit, v string) error {
		b, err := ParseBool(v)
		if err != nil {
			return err
		}
		*field(u) = b
		return nil
	}
}

func intField(field func(u *Unit) *int, min, max int64) setter {
	return func(u *Unit, v string) error {
		n, err := parseIntRange(v, min, max)
		if err != nil {
			return err
		}
		*field(u) = int(n)
		return nil
	}
}

func optIntField(field func(u *Unit) **int, min, max int64) setter {
	return func(u *Unit, v string) error {
		n, err := parseIntRange(v, min, max)
		if err != nil {
			return err
		}
		i := int(n)
		*field(u) = &i
		return nil
	}
}

func sizeField(field func(u *Unit) *int64, max int64) setter {
	return func(u *Unit, v string) error {
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		if n < 1 || n > max {
			return fmt.Errorf("size %d out of range 1…%d", n, max)
		}
		*field(u) = n
		return nil
	}
}

// durationField parses a time span. With infinityOK, "infinity" (and 0)
// store 0, which the model reads as "no limit".
func durationField(field func(u *Unit) *time.Duration, infinityOK bool) setter {
	return func(u *Unit, v string) error {
		d, err := ParseTimespan(v)
		if errors.Is(err, ErrInfinity) {
			if !infinityOK {
				return fmt.Errorf("infinity is not allowed here")
			}
			d, err = 0, nil
		}
		if err != nil {
			return err
		}
		*field(u) = d
		return nil
	}
}

// secondsField parses a time span that the kernel takes in whole seconds
// (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_DEFER_ACCEPT).
func secondsField(field func(u *Unit) *time.Duration) setter {
	return func(u *Unit, v string) error {
		d, err := ParseTimespan(v)
		if errors.Is(err, ErrInfinity) {
			return fmt.Errorf("infinity is not allowed here")
		}
		if err != nil {
			return err
		}
		if d > 0 && d < time.Second || d > 32767*time.Second {
			return fmt.Errorf("time span %s out of range 1s…32767s", d)
		}
		*field(u) = d.Truncate(time.Second)
		return nil
	}
}

func modeField(field func(u *Unit) *os.FileMode) setter {
	return func(u *Unit, v string) error {
		m, err := ParseMode(v)
		if err != nil {
			return err
		}
		*field(u) = m
		return nil
	}
}

// wordsField appends whitespace-separated words (with systemd quoting);
// check, when set, validates each word.
func wordsField(field func(u *Unit) *[]string, check func(string) error) setter {
	return func(u *Unit, v string) error {
		words, err := SplitWords(v, false)
		if err != nil {
			return err
		}
		for _, w := range words {
			if check != nil {
				if err := check(w); err != nil {
					return err
				}
			}
		}
		*field(u) = append(*field(u), words...)
		return nil
	}
}

// enumField accepts one of the given values.
func enumField[T ~string](field func(u *Unit) *T, allowed []T, unsupported map[string]string) setter {
	return func(u *Unit, v string) error {
		for _, a := range allowed {
			if string(a) == v {
				*field(u) = a
				return nil
			}
		}
		if why, ok := unsupported[v]; ok {
			return fmt.Errorf("value %q is not supported by sockd: %s", v, why)
		}
		return fmt.Errorf("invalid value %q, want one of %v", v, allowed)
	}
}
