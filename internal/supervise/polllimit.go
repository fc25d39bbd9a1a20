package supervise

import (
	"fmt"
	"time"
)

// PollLimitIntervalSec= and PollLimitBurst= (systemd.socket(5), systemd
// 255): past Burst wake-ups of the unit's listeners within Interval, the
// unit stops watching them for what is left of the interval, then watches
// them again. Unlike the trigger limit nothing fails: connections wait in
// the backlog meanwhile. systemd counts wake-ups per listener; sockd's
// watcher reports a wake-up per unit, so sockd counts them per unit.

// pollLimit is the unit's poll limit, with the timer of a pause.
type pollLimit struct {
	rateLimit
	resume *time.Timer // set while paused
}

// setPollLimit applies the unit's settings.
func (u *Unit) setPollLimit() {
	s := &u.cfg.Socket
	u.polls.interval, u.polls.burst = s.Helpers.PollLimitInterval, s.EffectivePollLimitBurst()
}

// pollAllowed records a wake-up of the listeners. When it is over the
// limit it pauses the unit (its listeners stay unwatched until the
// window ends) and returns false.
func (u *Unit) pollAllowed(now time.Time) bool {
	if u.polls.allow(now) {
		return true
	}
	left := u.polls.interval - now.Sub(u.polls.begin)
	if u.polls.resume == nil {
		u.polls.resume = time.NewTimer(max(left, 0))
		u.log.Warn("poll limit hit, pausing the listeners", "limit",
			fmt.Sprintf("%d in %s", u.polls.burst, u.polls.interval), "for", left)
	}
	return false
}

// pollResumeC is the timer of a pause, or nil.
func (u *Unit) pollResumeC() <-chan time.Time {
	if u.polls.resume == nil {
		return nil
	}
	return u.polls.resume.C
}

// pollPaused reports whether the listeners are paused by the poll limit.
func (u *Unit) pollPaused() bool { return u.polls.resume != nil }

// pollResume ends a pause: the listeners are watched again, unless the
// unit left the listening state meanwhile (its next state re-arms them).
func (u *Unit) pollResume() {
	u.polls.resume = nil
	u.log.Info("poll limit window over, watching the listeners again")
	if u.state == StateListening {
		u.rearm()
	}
}

// stopPollPause cancels a pause, for a unit that stops or fails.
func (u *Unit) stopPollPause() {
	if u.polls.resume != nil {
		u.polls.resume.Stop()
		u.polls.resume = nil
	}
}

// flushPending discards what waits on the listeners of an Accept=no unit
// that goes back to listening, with FlushPending=yes (systemd.socket(5)):
// connections and messages the service left are not served by the next
// one.
func (u *Unit) flushPending() {
	if !u.cfg.Socket.Helpers.FlushPending || u.cfg.Socket.Accept {
		return
	}
	for _, l := range u.listeners {
		n, err := l.Flush()
		if err != nil {
			u.log.Warn("flushing pending connections", "listen", l.Spec().Address.String(), "err", err)
		}
		if n > 0 {
			u.log.Info("flushed pending connections", "listen", l.Spec().Address.String(), "count", n)
		}
	}
}
