package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// ErrNotRunning is returned by Reload before Run started or after it
// returned.
var ErrNotRunning = errors.New("sockd is not running")

// Reload re-reads the unit directories and applies the difference. It is
// atomic with respect to validation: if any unit is invalid, nothing
// changes and the error lists every problem. Otherwise new units are
// bound and started; removed units stop their services and close their
// listeners; a unit whose listeners are unchanged keeps its listening fds
// and its running service, and takes new service settings at the
// service's next start; a unit whose listeners changed keeps the fds of
// the listeners that did not change, binds the new ones, closes the old
// ones, and restarts its supervision (stopping its service). A reload
// never refuses a connection to a listener that did not change.
func (d *Daemon) Reload(ctx context.Context) error {
	defer d.procs.work()()
	res := d.loadUnits() // source.go
	if err := res.Err(); err != nil {
		return refusal(res.Invalid, err) // refusal.go
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runCtx == nil {
		return ErrNotRunning
	}
	d.invalid = nil // a reload applies only when every unit is valid
	d.masked = res.Masked
	d.invalid = nil      // a reload applies only when every unit is valid
	d.keepInstances(res) // template.go
	next := map[string]*units.Unit{}
	for _, u := range res.Units {
		next[u.Name] = u
	}
	diff := units.Diff(d.configs(), res.Units)
	var errs []error
	for _, name := range diff.Removed {
		d.removeUnit(name)
	}
	for _, c := range diff.Changed {
		if err := d.changeUnit(ctx, c, next[c.Name]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range diff.Added {
		if err := d.addUnit(next[name]); err != nil {
			errs = append(errs, err)
		}
	}
	d.counters.reloads.Add(1) // metrics.go
	d.log.Info("reloaded", "added", len(diff.Added), "removed", len(diff.Removed), "changed", len(diff.Changed), "failed", len(errs))
	return errors.Join(errs...)
}

// configs returns the settings of every loaded unit.
func (d *Daemon) configs() []*units.Unit {
	out := make([]*units.Unit, 0, len(d.units))
	for _, r := range d.units {
		out = append(out, r.sup.Config())
	}
	return out
}

func (d *Daemon) removeUnit(name string) {
	r := d.units[name]
	r.sup.StopBecause("unit removed")
	r.sup.Close()
	delete(d.units, name)
	d.log.Info("unit removed", "unit", name+".socket")
}

func (d *Daemon) addUnit(u *units.Unit) error {
	return d.startUnit(u, func(units.Listener) *activation.Listener { return nil })
}

// startUnit binds u's listeners (taking over, for each one keep returns
// a current Listener for, that Listener's socket and file system node:
// see activation.Rebind) and supervises it. A unit that cannot bind is
// logged and d.units is left as it was.
func (d *Daemon) startUnit(u *units.Unit, keep func(units.Listener) *activation.Listener) error {
	ls, err := d.bindHooked(u, func() ([]*activation.Listener, error) { // sockethooks.go
		return activation.Rebind(u.Name+".socket", &u.Socket, keep)
	})
	if err != nil {
		d.log.Error("unit failed", "unit", u.Name+".socket", "err", err)
		return err
	}
	r := &running{sup: d.supervisor(u, ls)}
	d.units[u.Name] = r
	r.start(d.runCtx)
	return nil
}

// changeUnit applies a changed unit: new settings for an unchanged set of
// listeners, or a new supervisor with the listeners that were kept.
func (d *Daemon) changeUnit(ctx context.Context, c units.Change, u *units.Unit) error {
	r := d.units[c.Name]
	if r.stopped() {
		d.units[c.Name] = &running{sup: d.stoppedSupervisor(u)}
		return nil
	}
	if !c.Listeners {
		return r.sup.Reconfigure(ctx, u)
	}
	old := r.sup.Config()
	r.stop()
	kept, stale := matchListeners(r.sup.Listeners(), old, u)
	for _, l := range stale {
		if err := l.Close(); err != nil {
			d.log.Warn("closing listener", "unit", c.Name+".socket", "err", err)
		}
		if err := l.Remove(); err != nil {
			d.log.Warn("removing socket node", "unit", c.Name+".socket", "err", err)
		}
	}
	err := d.startUnit(u, func(spec units.Listener) *activation.Listener {
		return kept[units.Fingerprint(spec, &u.Socket)]
	})
	if err != nil {
		delete(d.units, c.Name) // its old listeners are closed: nothing left to run
	}
	return err
}

// matchListeners splits a unit's current listeners into those the new
// settings keep (by fingerprint) and those to close.
func matchListeners(current []*activation.Listener, old, next *units.Unit) (kept map[string]*activation.Listener, stale []*activation.Listener) {
	want := map[string]bool{}
	for _, l := range next.Socket.Listeners {
		want[units.Fingerprint(l, &next.Socket)] = true
	}
	kept = map[string]*activation.Listener{}
	for _, l := range current {
		fp := units.Fingerprint(l.Spec(), &old.Socket)
		if want[fp] {
			if _, dup := kept[fp]; !dup {
				kept[fp] = l
				continue
			}
		}
		stale = append(stale, l)
	}
	return kept, stale
}

// stoppedSupervisor is the supervisor of a unit whose socket is stopped:
// it has no listeners until StartSocket binds them.
func (d *Daemon) stoppedSupervisor(u *units.Unit) *supervise.Unit {
	sup := supervise.New(u, nil, supervise.Deps{Reaper: d.reaper, Watcher: d.watcher, Log: d.log, NotifyDir: d.notifyDir()})
	sup.Close()
	return sup
}

// StopSocket stops a socket unit: its service is stopped and its
// listeners are closed (and removed with RemoveOnStop=). The unit stays
// loaded, stopped, until StartSocket.
func (d *Daemon) StopSocket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.units[name]
	if !ok {
		return fmt.Errorf("unit %s.socket: not loaded", name)
	}
	r.sup.StopBecause("socket stopped")
	r.sup.Close()
	d.bindFailed.set(name, nil) // a stopped socket is inactive, no longer failed
	d.log.Info("socket stopped", "unit", name+".socket")
	return nil
}

// StartSocket binds the listeners of a stopped socket unit again and
// supervises it; for a unit already listening it does nothing.
func (d *Daemon) StartSocket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.units[name]
	switch {
	case !ok:
		return fmt.Errorf("unit %s.socket: not loaded", name)
	case d.runCtx == nil:
		return ErrNotRunning
	case !r.stopped():
		return nil
	}
	err := d.addUnit(r.sup.Config())
	d.bindFailed.set(name, err) // bindfail.go
	return err
}
