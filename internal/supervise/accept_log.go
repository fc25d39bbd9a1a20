package supervise

import (
	"log/slog"
	"sync"
	"time"
)

// logLimiter keeps a flood of like events from becoming a flood of log
// records: it writes at most one record per interval, counts the ones it
// holds back, and reports that count ("suppressed") with the next record
// it writes. When records were held back, its timer (C) fires once the
// interval has passed; Flush then writes the last one held. Note may be
// called from any goroutine; C and Flush belong to one owner.
type logLimiter struct {
	interval time.Duration
	timer    *time.Timer
	now      func() time.Time

	mu      sync.Mutex
	log     func(msg string, args ...any)
	last    time.Time
	held    int
	pending bool
	msg     string
	args    []any
}

// newLogLimiter returns a limiter writing with log (e.g. slog.Logger.Warn).
func newLogLimiter(log func(msg string, args ...any), interval time.Duration) *logLimiter {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &logLimiter{interval: interval, timer: t, now: time.Now, log: log}
}

// Note records one event: it is logged now unless a record was written
// less than an interval ago.
func (l *logLimiter) Note(msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.last.IsZero() || now.Sub(l.last) >= l.interval {
		l.write(now, msg, args)
		return
	}
	l.held++
	l.msg, l.args = msg, args
	if !l.pending {
		l.pending = true
		l.timer.Reset(l.interval - now.Sub(l.last))
	}
}

// C fires when held-back records are due; call Flush then.
func (l *logLimiter) C() <-chan time.Time { return l.timer.C }

// holding reports whether records are held back (C will fire).
func (l *logLimiter) holding() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending
}

// Flush writes the last record held back, if any, with the count of the
// others.
func (l *logLimiter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = false
	if l.held == 0 {
		return
	}
	l.held--
	l.write(l.now(), l.msg, l.args)
}

// Stop writes what is held back and stops the timer.
func (l *logLimiter) Stop() {
	l.timer.Stop()
	l.Flush()
}

func (l *logLimiter) write(now time.Time, msg string, args []any) {
	if l.held > 0 {
		args = append(args[:len(args):len(args)], slog.Int("suppressed", l.held))
	}
	l.log(msg, args...)
	l.last, l.held, l.msg, l.args = now, 0, "", nil
}
