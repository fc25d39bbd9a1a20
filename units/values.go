package units

import (
	"errors"
	"fmt"
	"math"
	"math/big"
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

// sizeSuffixes are parse_size's suffixes to base 1024, in the order
// systemd tries them: in a value of several components each must use a
// smaller suffix than the one before ("1G 512M", not "512M 1G").
var sizeSuffixes = []struct {
	suffix string
	factor uint64
}{
	{"E", 1 << 60}, {"P", 1 << 50}, {"T", 1 << 40}, {"G", 1 << 30},
	{"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}, {"", 1},
}

// ParseSize parses a byte size with the suffixes K, M, G, T, P, E to base
// 1024, as systemd's parse_size does: a fraction ("1.5M", "10.M"), several
// components with decreasing suffixes ("1G 512M"), whitespace between a
// number and its suffix. The result is exact (fractions are truncated to
// whole bytes), not a floating-point approximation.
func ParseSize(s string) (int64, error) {
	p := strings.TrimRight(s, spaces)
	var total uint64
	next := 0 // index of the largest suffix still allowed
	for {
		p = strings.TrimLeft(p, spaces)
		num, frac, rest, _ := cutDecimal(p)
		if num == "" { // parse_size needs a digit before any "."
			return 0, fmt.Errorf("invalid size %q", s)
		}
		rest = strings.TrimLeft(rest, spaces)
		i := next
		for i < len(sizeSuffixes) && !strings.HasPrefix(rest, sizeSuffixes[i].suffix) {
			i++
		}
		if i == len(sizeSuffixes) {
			return 0, fmt.Errorf("invalid size %q", s)
		}
		v, ok := scaleDecimal(num, frac, sizeSuffixes[i].factor)
		if !ok || v > math.MaxInt64-total {
			return 0, fmt.Errorf("size %q out of range", s)
		}
		total += v
		p, next = rest[len(sizeSuffixes[i].suffix):], i+1
		if p == "" {
			return int64(total), nil
		}
	}
}

const spaces = " \t\n\r"

// timeUnits are the units of systemd.time(7), in the order parse_time
// tries them as prefixes of what follows a number ("ms" before "m").
var timeUnits = []struct {
	unit string
	d    time.Duration
}{
	{"seconds", time.Second}, {"second", time.Second}, {"sec", time.Second}, {"s", time.Second},
	{"minutes", time.Minute}, {"minute", time.Minute}, {"min", time.Minute},
	{"months", 2629800 * time.Second}, {"month", 2629800 * time.Second}, {"M", 2629800 * time.Second},
	{"msec", time.Millisecond}, {"ms", time.Millisecond}, {"m", time.Minute},
	{"hours", time.Hour}, {"hour", time.Hour}, {"hr", time.Hour}, {"h", time.Hour},
	{"days", 24 * time.Hour}, {"day", 24 * time.Hour}, {"d", 24 * time.Hour},
	{"weeks", 7 * 24 * time.Hour}, {"week", 7 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour},
	{"years", 31557600 * time.Second}, {"year", 31557600 * time.Second}, {"y", 31557600 * time.Second},
	{"usec", time.Microsecond}, {"us", time.Microsecond}, {"μs", time.Microsecond}, {"µs", time.Microsecond},
}

// ErrInfinity is returned by ParseTimespan for "infinity"; callers that
// accept it map it to their own meaning.
var ErrInfinity = errors.New("infinity")

// ParseTimespan parses a time span as systemd.time(7) defines it and
// systemd's parse_time implements it: "90", "90s", "1min 30s", "2h30min",
// "500ms", "1.5s", ".5s", "5 min". A number without a unit is seconds; a
// fraction needs at least one digit after the ".". The sum is computed
// exactly in nanoseconds. "infinity" returns ErrInfinity.
func ParseTimespan(s string) (time.Duration, error) {
	p := strings.TrimLeft(s, spaces)
	if rest, ok := strings.CutPrefix(p, "infinity"); ok && strings.Trim(rest, spaces) == "" {
		return 0, ErrInfinity
	}
	var total uint64
	for something := false; ; something = true {
		p = strings.TrimLeft(p, spaces)
		if p == "" {
			if !something {
				return 0, fmt.Errorf("invalid time span %q", s)
			}
			return time.Duration(total), nil
		}
		num, frac, rest, bareDot := cutDecimal(p)
		if bareDot || num == "" && frac == "" {
			return 0, fmt.Errorf("invalid time span %q", s)
		}
		unit, d := "", time.Second
		after := strings.TrimLeft(rest, spaces)
		for _, u := range timeUnits {
			if strings.HasPrefix(after, u.unit) {
				unit, d = u.unit, u.d
				break
			}
		}
		if unit == "" && rest != "" && after == rest {
			// Something other than a unit or whitespace right after the
			// number: "12.34.56", "5x".
			return 0, fmt.Errorf("invalid time span %q", s)
		}
		v, ok := scaleDecimal(num, frac, uint64(d))
		if !ok || v > math.MaxInt64-total {
			return 0, fmt.Errorf("time span %q out of range", s)
		}
		total += v
		p = after[len(unit):]
	}
}

// cutDecimal splits the decimal number at the start of s into its integer
// digits, its fraction digits and the rest. bareDot reports a "." that no
// digit follows: parse_size accepts it ("10.M"), parse_time does not
// ("3.", "3.sec").
func cutDecimal(s string) (num, frac, rest string, bareDot bool) {
	i := digitsPrefix(s)
	num, rest = s[:i], s[i:]
	if r, dot := strings.CutPrefix(rest, "."); dot {
		j := digitsPrefix(r)
		frac, rest, bareDot = r[:j], r[j:], j == 0
	}
	return num, frac, rest, bareDot
}

func digitsPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// scaleDecimal returns num.frac × factor, truncated to an integer, or
// false when it does not fit in an int64.
func scaleDecimal(num, frac string, factor uint64) (uint64, bool) {
	n, ok := new(big.Int).SetString("0"+num+frac, 10)
	if !ok {
		return 0, false
	}
	n.Mul(n, new(big.Int).SetUint64(factor))
	n.Quo(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil))
	if !n.IsInt64() {
		return 0, false
	}
	return n.Uint64(), true
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

// ParseSignal parses a signal given as "SIGTERM", "TERM" or a number
// from 1 to 64. Names are case-sensitive, as in systemd's
// signal_from_string: "term" is not a signal.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := s
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
