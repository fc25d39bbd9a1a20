// Package logthrottle rate-limits repeated warnings, so that an
// unprivileged sender cannot flood sockd's log (and burn its CPU) with
// messages sockd refuses: the first refusal of a source is logged at
// once, later ones within the same interval are only counted, and the
// first one after the interval is logged with the count of those
// suppressed ("suppressed=N"), one line per source per interval. This is
// the shape of the kernel's printk_ratelimit and of journald's
// RateLimitIntervalSec=, keyed by source instead of globally.
package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the interval New uses for a zero interval.
const DefaultInterval = 10 * time.Second

// MaxSources is how many sources a Throttle tracks; past it, the oldest
// windows are forgotten first (and their next event logs at once), so
// that memory stays bounded however many sources there are.
const MaxSources = 4096

// Throttle logs at most one line per source per interval. Its methods
// are safe for concurrent use. The zero value is not usable: use New.
type Throttle struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	begin      time.Time
	suppressed int
}

// New returns a Throttle that logs to log (slog.Default() if nil) at
// most once per source per interval (DefaultInterval if zero).
func New(log *slog.Logger, interval time.Duration) *Throttle {
	if log == nil {
		log = slog.Default()
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Throttle{log: log, interval: interval, now: time.Now, windows: map[string]*window{}}
}

// Warn logs msg with args at level Warn unless source already logged
// within the interval, in which case the event is only counted. A line
// that follows suppressed events carries "suppressed", their number,
// and "interval". It reports whether it logged.
func (t *Throttle) Warn(source, msg string, args ...any) bool {
	return t.Log(slog.LevelWarn, source, msg, args...)
}

// Log is Warn at level.
func (t *Throttle) Log(level slog.Level, source, msg string, args ...any) bool {
	if !t.log.Enabled(context.Background(), level) {
		return false
	}
	suppressed, ok := t.admit(source)
	if !ok {
		return false
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed, "interval", t.interval)
	}
	t.log.Log(context.Background(), level, msg, args...)
	return true
}

// admit counts an event of source and reports whether to log it, with
// the number of events suppressed since the last line.
func (t *Throttle) admit(source string) (suppressed int, ok bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.windows[source]
	if w != nil && now.Sub(w.begin) < t.interval {
		w.suppressed++
		return 0, false
	}
	if w == nil {
		if len(t.windows) >= MaxSources {
			t.forget(now)
		}
		w = &window{}
		t.windows[source] = w
	}
	suppressed = w.suppressed
	w.begin, w.suppressed = now, 0
	return suppressed, true
}

// forget drops the windows that ended, or, if none has, all of them.
func (t *Throttle) forget(now time.Time) {
	for k, w := range t.windows {
		if now.Sub(w.begin) >= t.interval {
			delete(t.windows, k)
		}
	}
	if len(t.windows) >= MaxSources {
		clear(t.windows)
	}
}
