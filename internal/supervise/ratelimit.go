package supervise

import "time"

// rateLimit is systemd's ratelimit_below(): at most burst events per
// interval, the window starting at the first event after the previous
// window ended. A zero interval or burst disables it.
type rateLimit struct {
	interval time.Duration
	burst    int
	begin    time.Time
	n        int
}

// allow records an event at now and reports whether it is within the
// limit.
func (r *rateLimit) allow(now time.Time) bool {
	if r.interval <= 0 || r.burst <= 0 {
		return true
	}
	if r.begin.IsZero() || now.Sub(r.begin) > r.interval {
		r.begin, r.n = now, 1
		return true
	}
	if r.n < r.burst {
		r.n++
		return true
	}
	return false
}

// reset forgets past events.
func (r *rateLimit) reset() { r.begin, r.n = time.Time{}, 0 }
