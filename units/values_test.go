package units

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// The value syntaxes follow systemd's parsers: parse_boolean and
// parse_size (src/basic/parse-util.c), parse_time (src/basic/time-util.c),
// parse_mode and signal_from_string.

func TestParseBool(t *testing.T) {
	for _, s := range []string{"1", "yes", "y", "true", "t", "on", "YES", "Yes", "Y", "TRUE", "True", "T", "ON", "On"} {
		if got, err := ParseBool(s); err != nil || !got {
			t.Errorf("ParseBool(%q) = %v, %v; want true, nil", s, got, err)
		}
	}
	for _, s := range []string{"0", "no", "n", "false", "f", "off", "NO", "No", "N", "FALSE", "F", "OFF", "Off"} {
		if got, err := ParseBool(s); err != nil || got {
			t.Errorf("ParseBool(%q) = %v, %v; want false, nil", s, got, err)
		}
	}
	for _, s := range []string{"", "2", "-1", "yess", "enable", "enabled", "nope", " yes", "yes ", "oui"} {
		_, err := ParseBool(s)
		want := `invalid boolean "` + s + `"`
		if err == nil || err.Error() != want {
			t.Errorf("ParseBool(%q): got error %v; want %s", s, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	const K, M, G, T, P, E = 1 << 10, 1 << 20, 1 << 30, 1 << 40, 1 << 50, 1 << 60
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1", 1},
		{"4096", 4096},
		{"1B", 1},
		{"1K", K},
		{"64K", 64 * K},
		{"1M", M},
		{"1G", G},
		{"1T", T},
		{"1P", P},
		{"7E", 7 * E},
		{"1.5K", K + K/2},
		{"1.5M", M + M/2},
		{"0.5G", G / 2},
		{"1.1K", 1126},   // 1126.4, truncated like systemd's (unsigned long long) cast
		{"10.M", 10 * M}, // a "." without digits is accepted ("10.M is valid" in parse_size)
		{"1 K", K},       // whitespace between number and suffix
		{"1G 512M", G + 512*M},
		{"1G512M", G + 512*M},
		{"2M 3K 1", 2*M + 3*K + 1},
		{"1K1B", K + 1},
		{"1K 1", K + 1},
		{"  8K  ", 8 * K},
	}
	for _, c := range good {
		if got, err := ParseSize(c.in); err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, nil", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", `invalid size ""`},
		{" ", `invalid size " "`},
		{"K", `invalid size "K"`},
		{".5K", `invalid size ".5K"`}, // parse_size needs a digit first
		{"-1", `invalid size "-1"`},
		{"+1", `invalid size "+1"`}, // strtoull would take it; sockd does not
		{"1k", `invalid size "1k"`}, // suffixes are upper case
		{"1KB", `invalid size "1KB"`},
		{"1KiB", `invalid size "1KiB"`},
		{"512M 1G", `invalid size "512M 1G"`}, // suffixes must decrease
		{"1K 1K", `invalid size "1K 1K"`},
		{"1 2", `invalid size "1 2"`},
		{"1.5.3", `invalid size "1.5.3"`},
		{"abc", `invalid size "abc"`},
		{"1 M B", `invalid size "1 M B"`},
		{"8E", `size "8E" out of range`},
		{"99999999999999999999", `size "99999999999999999999" out of range`},
		{"7E 1024P", `size "7E 1024P" out of range`},
	}
	for _, c := range bad {
		if _, err := ParseSize(c.in); err == nil || err.Error() != c.want {
			t.Errorf("ParseSize(%q): got error %v; want %s", c.in, err, c.want)
		}
	}
}

func TestParseTimespan(t *testing.T) {
	const (
		day   = 24 * time.Hour
		month = 2629800 * time.Second  // USEC_PER_MONTH: 30.44 days
		year  = 31557600 * time.Second // USEC_PER_YEAR: 365.25 days
	)
	good := []struct {
		in   string
		want time.Duration
	}{
		// every unit of systemd.time(7)
		{"1usec", time.Microsecond},
		{"1us", time.Microsecond},
		{"1µs", time.Microsecond}, // U+00B5 MICRO SIGN
		{"1μs", time.Microsecond}, // U+03BC GREEK SMALL LETTER MU
		{"1msec", time.Millisecond},
		{"1ms", time.Millisecond},
		{"1seconds", time.Second},
		{"1second", time.Second},
		{"1sec", time.Second},
		{"1s", time.Second},
		{"1minutes", time.Minute},
		{"1minute", time.Minute},
		{"1min", time.Minute},
		{"1m", time.Minute},
		{"1hours", time.Hour},
		{"1hour", time.Hour},
		{"1hr", time.Hour},
		{"1h", time.Hour},
		{"1days", day},
		{"1day", day},
		{"1d", day},
		{"1weeks", 7 * day},
		{"1week", 7 * day},
		{"1w", 7 * day},
		{"1months", month},
		{"1month", month},
		{"1M", month},
		{"1years", year},
		{"1year", year},
		{"1y", year},
		// numbers and combinations
		{"0", 0},
		{"90", 90 * time.Second}, // a bare number is seconds
		{"1.5", 1500 * time.Millisecond},
		{"1min 30s", 90 * time.Second},
		{"1min30s", 90 * time.Second},
		{"2h30min", 150 * time.Minute},
		{"2min 200ms", 120200 * time.Millisecond}, // the example of systemd.syntax(7)
		{"5 min", 5 * time.Minute},
		{"1.5s", 1500 * time.Millisecond},
		{".5s", 500 * time.Millisecond},
		{"1.001ms", 1001 * time.Microsecond}, // exact: a float gave 1.000999ms
		{"2.3ms", 2300 * time.Microsecond},
		{"0.0000005s", 500 * time.Nanosecond},
		{"12.34s.56", 12900 * time.Millisecond}, // systemd: "accept '12.34s.56'"
		{"12.34 .56", 12900 * time.Millisecond}, // and "'12.34 .56'"
		{"1 2", 3 * time.Second},                // two bare numbers add up, as in parse_time
		{"  90s  ", 90 * time.Second},
		{"292y", 292 * year},
	}
	for _, c := range good {
		if got, err := ParseTimespan(c.in); err != nil || got != c.want {
			t.Errorf("ParseTimespan(%q) = %v, %v; want %v, nil", c.in, got, err, c.want)
		}
	}
	for _, s := range []string{"infinity", " infinity ", "infinity\t"} {
		if got, err := ParseTimespan(s); !errors.Is(err, ErrInfinity) || got != 0 {
			t.Errorf("ParseTimespan(%q) = %v, %v; want 0, ErrInfinity", s, got, err)
		}
	}
	bad := []struct{ in, want string }{
		{"", `invalid time span ""`},
		{" ", `invalid time span " "`},
		{"s", `invalid time span "s"`},
		{"-1", `invalid time span "-1"`},
		{"-0", `invalid time span "-0"`},
		{"1x", `invalid time span "1x"`},
		{"1S", `invalid time span "1S"`}, // units are case-sensitive
		{"5secs", `invalid time span "5secs"`},
		{"1.5.3", `invalid time span "1.5.3"`},
		{"3.", `invalid time span "3."`},
		{"3.sec", `invalid time span "3.sec"`},
		{".", `invalid time span "."`},
		{"1e3", `invalid time span "1e3"`},
		{"infinityx", `invalid time span "infinityx"`},
		{"1min infinity", `invalid time span "1min infinity"`},
		{"300y", `time span "300y" out of range`},
		{"99999999999999999999", `time span "99999999999999999999" out of range`},
	}
	for _, c := range bad {
		if _, err := ParseTimespan(c.in); err == nil || err.Error() != c.want {
			t.Errorf("ParseTimespan(%q): got error %v; want %s", c.in, err, c.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	good := []struct {
		in   string
		want os.FileMode
	}{
		{"0", 0},
		{"644", 0644},
		{"0644", 0644},
		{"0755", 0755},
		{"0600", 0600},
		{"1777", os.ModeSticky | 0777},
		{"4755", os.ModeSetuid | 0755},
		{"2750", os.ModeSetgid | 0750},
		{"07777", os.ModeSetuid | os.ModeSetgid | os.ModeSticky | 0777},
	}
	for _, c := range good {
		if got, err := ParseMode(c.in); err != nil || got != c.want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, nil", c.in, got, err, c.want)
		}
	}
	for _, s := range []string{"", "8", "0o644", "0x1ff", "-644", "+644", "10000", "rw-r--r--", "64 4"} {
		want := `invalid mode "` + s + `", want an octal number up to 07777`
		if _, err := ParseMode(s); err == nil || err.Error() != want {
			t.Errorf("ParseMode(%q): got error %v; want %s", s, err, want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	good := []struct {
		in   string
		want syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"TERM", syscall.SIGTERM},
		{"SIGKILL", syscall.SIGKILL},
		{"KILL", syscall.SIGKILL},
		{"SIGHUP", syscall.SIGHUP},
		{"INT", syscall.SIGINT},
		{"SIGUSR1", syscall.SIGUSR1},
		{"SIGWINCH", syscall.SIGWINCH},
		{"15", syscall.SIGTERM},
		{"1", syscall.SIGHUP},
		{"64", syscall.Signal(64)},
	}
	for _, c := range good {
		if got, err := ParseSignal(c.in); err != nil || got != c.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v, nil", c.in, got, err, c.want)
		}
	}
	// Names are case-sensitive in systemd's signal_from_string. The
	// real-time names (SIGRTMIN+n) that systemd also takes are not
	// supported; their numbers are.
	for _, s := range []string{"", "0", "65", "-1", "term", "sigterm", "Term", "SIG", "SIGFOO", "FOO", "SIGTERM ", "SIGRTMIN"} {
		want := `invalid signal "` + s + `"`
		if _, err := ParseSignal(s); err == nil || err.Error() != want {
			t.Errorf("ParseSignal(%q): got error %v; want %s", s, err, want)
		}
	}
}
