package supervise

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// A unit that failed for good (trigger-limit-hit, start-limit-hit) closes
// its stream and seqpacket listeners, as systemd does, so that clients are
// refused at once instead of waiting in a backlog nobody serves; `sockctl
// start` (OpReset) binds them again. While a restart is pending
// (RestartSec=) the listeners stay open and connections wait for the
// service. See activation.Listener.Refuse.

// refuseListeners closes the unit's listeners that have connections to
// refuse, keeping their descriptor numbers; they are no longer watched.
func (u *Unit) refuseListeners() {
	n := 0
	for _, l := range u.listeners {
		_ = u.deps.Watcher.Remove(l.Fd()) // not watched while failed, or never added
		ok, err := l.Refuse()
		if err != nil {
			u.log.Error("closing a listener of a failed unit", "listen", l.Spec().Address.String(), "err", err)
		}
		if ok {
			n++
		}
	}
	if n > 0 {
		u.log.Warn("unit failed: its listeners are closed, connections are refused until it is started again", "closed", n)
	}
}

// reopenListeners binds again the listeners refuseListeners closed (in
// this sockd or in the one that handed the unit over) and watches them.
func (u *Unit) reopenListeners() error {
	var errs []error
	n := 0
	for _, l := range u.listeners {
		if !l.Refusing() {
			continue
		}
		_ = u.deps.Watcher.Remove(l.Fd())
		if err := l.Reopen(&u.cfg.Socket); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, w := range l.Warnings {
			u.log.Warn("socket option not applied", "listen", l.Spec().Address.String(), "err", w)
		}
		if u.acc != nil { // the accept loop's listeners are non-blocking (accept.go)
			if err := unix.SetNonblock(l.Fd(), true); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", l.Spec().Address, err))
			}
		}
		if err := u.deps.Watcher.Add(l.Fd(), u); err != nil {
			errs = append(errs, fmt.Errorf("watching %s: %w", l.Spec().Address, err))
		}
		n++
	}
	if n > 0 {
		u.log.Info("listeners bound again", "count", n)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unit %s.socket: %w", u.name, err)
	}
	return nil
}
