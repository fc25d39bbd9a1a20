package units

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ParseBool parses a boolean as systemd does: 1, yes, y, true, t, on and
// 0, no, n, false, f, off, in any case.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", s)
}

var sizeSuffixes = map[string]float64{
	"":  1,
	"B": 1,
	"K": 1 << 10,
	"M": 1 << 20,
	"G": 1 << 30,
	"T": 1 << 40,
	"P": 1 << 50,
	"E": 1 << 60,
}

// ParseSize parses a byte size with the suffixes K, M, G, T, P, E to base
// 1024 (systemd's parse_size). A fraction ("1.5M") and several components
// ("1G 512M") are accepted.
func ParseSize(s string) (int64, error) {
	var total float64
	fields := splitComponents(s)
	if len(fields) == 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	for _, f := range fields {
		num, unit := splitNumber(f.text)
		mult, ok := sizeSuffixes[unit]
		if num == "" || !ok {
			return 0, fmt.Errorf("invalid size %q", s)
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("invalid size %q", s)
		}
		total += v * mult
	}
	if total >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return int64(total), nil
}

var timeUnits = map[string]time.Duration{
	"":     time.Second, // the default unit of a time span is seconds
	"usec": time.Microsecond, "us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond,
	"msec": time.Millisecond, "ms": time.Millisecond,
	"seconds": time.Second, "second": time.Second, "sec": time.Second, "s": time.Second,
	"minutes": time.Minute, "minute": time.Minute, "min": time.Minute, "m": time.Minute,
	"hours": time.Hour, "hour": time.Hour, "hr": time.Hour, "h": time.Hour,
	"days": 24 * time.Hour, "day": 24 * time.Hour, "d": 24 * time.Hour,
	"weeks": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "w": 7 * 24 * time.Hour,
	"months": 2629800 * time.Second, "month": 2629800 * time.Second, "M": 2629800 * time.Second,
	"years": 31557600 * time.Second, "year": 31557600 * time.Second, "y": 31557600 * time.Second,
}

// ErrInfinity is returned by ParseTimespan for "infinity"; callers that
// accept it map it to their own meaning.
var ErrInfinity = errors.New("infinity")

// ParseTimespan parses a time span as systemd.time(7) defines it: "90",
// "90s", "1min 30s", "2h30min", "500ms", "1.5s". A bare number is seconds.
// "infinity" returns ErrInfinity.
func ParseTimespan(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "infinity" {
		return 0, ErrInfinity
	}
	fields := splitComponents(s)
	if len(fields) == 0 {
		return 0, fmt.Errorf("invalid time span %q", s)
	}
	var total float64
	for _, f := range fields {
		num, unit := splitNumber(f.text)
		if unit == "" && f.unit != "" {
			unit = f.unit
		}
		mult, ok := timeUnits[unit]
		if num == "" || !ok {
			return 0, fmt.Errorf("invalid time span %q", s)
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("invalid time span %q", s)
		}
		total += v * float64(mult)
	}
	if total >= math.MaxInt64 {
		return 0, fmt.Errorf("time span %q out of range", s)
	}
	return time.Duration(total), nil
}

type component struct{ text, unit string }

// splitComponents splits "1min 30s" or "2h30min" into number+unit pieces.
// "5 min" (a number, whitespace, then a unit) is one component.
func splitComponents(s string) []component {
	var out []component
	rest := strings.TrimSpace(s)
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
			j++
		}
		k := j
		for k < len(rest) && !(rest[k] >= '0' && rest[k] <= '9' || rest[k] == '.' || rest[k] == ' ' || rest[k] == '\t') {
			k++
		}
		if i == 0 && k == j { // neither a number nor a unit: not a component
			return nil
		}
		out = append(out, component{text: rest[:i] + rest[j:k]})
		rest = strings.TrimSpace(rest[k:])
	}
	return out
}

// splitNumber splits "1.5min" into "1.5" and "min".
func splitNumber(s string) (num, unit string) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i], s[i:]
}

// ParseMode parses an octal file mode such as "0660" (at most 07777).
func ParseMode(s string) (os.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 07777 {
		return 0, fmt.Errorf("invalid mode %q, want an octal number up to 07777", s)
	}
	return unixMode(uint32(v)), nil
}

// unixMode converts permission and setuid/setgid/sticky bits to os.FileMode.
func unixMode(v uint32) os.FileMode {
	m := os.FileMode(v & 0777)
	if v&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if v&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if v&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

// ParseSignal parses a signal given as "SIGTERM", "TERM" or a number.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("invalid signal %q", s)
	}
	return sig, nil
}

// parseIntRange parses a decimal integer within [min, max].
func parseIntRange(s string, min, max int64) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if v < min || v > max {
		return 0, fmt.Errorf("%d out of range %d…%d", v, min, max)
	}
	return v, nil
}
