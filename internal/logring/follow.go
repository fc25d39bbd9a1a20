package logring

import (
	"time"

	"github.com/sockd/sockd/internal/control"
)

// LogSize is how many records sockd keeps per unit for `sockctl logs`
// (status shows the last StatusLines of them). A unit's buffer grows to
// it as the unit logs, so a unit that never logs costs nothing.
const LogSize = 1000

// StatusLines is how many records `sockctl status` shows.
const StatusLines = 10

// followBuffer is how many records a follower may lag behind before it
// misses some (it is told so by a gap record).
const followBuffer = 256

// follower receives the records of one key as they are added.
type follower struct {
	c       chan control.LogRecord
	dropped int // records that did not fit in c since the last one that did
}

// Tail returns the last n records of unit (all kept if n <= 0) that are
// not older than since (none if since is zero), oldest first.
func (r *Ring) Tail(unit string, n int, since time.Time) []control.LogRecord {
	return tail(r.Records(unit), n, since)
}

func tail(all []control.LogRecord, n int, since time.Time) []control.LogRecord {
	if !since.IsZero() {
		i := 0
		for i < len(all) && all[i].Time.Before(since) {
			i++
		}
		all = all[i:]
	}
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// Follow returns the last n records of unit (as Tail) and a channel of
// the records added after them, until stop is called. A follower that
// lags more than a few hundred records behind loses the excess; the next
// record it gets is preceded by one saying how many were lost.
func (r *Ring) Follow(unit string, n int, since time.Time) (past []control.LogRecord, next <-chan control.LogRecord, stop func()) {
	key := Key(unit)
	f := &follower{c: make(chan control.LogRecord, followBuffer)}
	r.mu.Lock()
	if r.follow == nil {
		r.follow = map[string]map[*follower]bool{}
	}
	if r.follow[key] == nil {
		r.follow[key] = map[*follower]bool{}
	}
	r.follow[key][f] = true
	past = tail(r.recordsLocked(unit), n, since) // under the same lock: none lost, none twice
	r.mu.Unlock()
	stop = func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.follow[key][f] {
			delete(r.follow[key], f)
			if len(r.follow[key]) == 0 {
				delete(r.follow, key)
			}
			close(f.c)
		}
	}
	return past, f.c, stop
}

// publish hands rec to key's followers; r.mu is held.
func (r *Ring) publish(key string, rec control.LogRecord) {
	for f := range r.follow[key] {
		if f.dropped > 0 && len(f.c) < cap(f.c)-1 {
			f.c <- control.LogRecord{Time: rec.Time, Level: "WARN", Message: "sockctl logs fell behind; records lost", Attrs: control.LogAttrs{{Key: "lost", Value: f.dropped}}}
			f.dropped = 0
		}
		select {
		case f.c <- rec:
		default:
			f.dropped++
		}
	}
}
