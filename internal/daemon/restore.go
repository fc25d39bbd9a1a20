package daemon

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units"
)

// Handover is what a new generation of sockd takes over from the
// previous one: by re-execution in place (FromInherited) or by takeover
// next to it (Takeover). Restore adopts it.
type Handover struct {
	// State holds the units' fds, processes and, after an upgrade in
	// place, settings; nil when the inherited state could not be
	// decoded (Inherited.Orphans are adopted then).
	State *upgrade.State
	// Inherited is set after an upgrade in place.
	Inherited *upgrade.Inherited
	takeover  *upgrade.Takeover // the conversation with the old sockd (Takeover)
}

// FromInherited is the handover of an upgrade in place.
func FromInherited(in *upgrade.Inherited) *Handover {
	return &Handover{State: in.State, Inherited: in}
}

// Restore is Load for a generation that takes over (step 4 of an
// upgrade, or a takeover): given the state and the fds it names, it
// adopts them. With every unit's settings in the state (an upgrade in
// place), the units are restored from them without reading the unit
// files, on every CPU, and FinishRestore reads the files once Run
// watches. Otherwise the unit files are read and each unit adopts its
// saved fds, or, when the state could not be decoded, the inherited
// sockets that match its listeners (never a fresh bind beside them).
// What no unit takes is closed; the processes of units that are gone,
// and all of them when the state is lost, are stopped. Call it instead
// of Load.
func (d *Daemon) Restore() {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.cfg.Handover
	if h.State != nil && h.takeover == nil && len(h.State.Stopped) == 0 && allConfigured(h.State) {
		d.restoreSaved(h)
		return
	}
	h.Inherited.GCOn()
	if h.State == nil {
		d.log.Error("cannot decode what the previous sockd handed over: adopting its sockets by matching them to the units",
			"err", h.Inherited.DecodeErr, "sockets", len(h.Inherited.Orphans))
		d.stopUnknownChildren() // orphans.go
		d.load(&inherited{fds: h.Inherited.Orphans, used: map[int]bool{}}, nil)
		return
	}
	s := h.State
	d.log.Info("taking over from the previous sockd", "previous_generation", s.Generation, "previous_binary", s.Binary, "previous_version", s.Version, "units", len(s.Units))
	d.load(inheritedFDs(d.log), s)
	for name, sv := range s.Units {
		d.dropSaved(name, sv)
	}
	s.Units = nil
}

// allConfigured reports whether every unit of s has its settings.
func allConfigured(s *upgrade.State) bool {
	for _, sv := range s.Units {
		if sv.Config == nil {
			return false
		}
	}
	return true
}

// restoreSaved restores every unit of h from the settings the previous
// image saved. d.mu is held.
func (d *Daemon) restoreSaved(h *Handover) {
	s := h.State
	d.log.Info("taking over from the previous sockd", "previous_generation", s.Generation, "previous_binary", s.Binary,
		"previous_version", s.Version, "units", len(s.Units), "state_format", s.Format, "state_read", h.Inherited.ReadTime)
	start := time.Now()
	saved := make([]*supervise.Saved, 0, len(s.Units))
	for _, sv := range s.Units {
		saved = append(saved, sv)
	}
	s.Units = nil
	// Each unit's restore is independent of the others' (its own fds,
	// its own supervisor), and most of it is system calls: on every CPU.
	restored := make([]*running, len(saved))
	parallel(len(saved), func(i int) {
		sv := saved[i]
		r, err := d.restoreRunning(sv.Config, sv, s.IDs[sv.Config.Name])
		if err != nil {
			d.log.Error("unit failed", "unit", sv.Config.Name+".socket", "err", err)
		}
		restored[i] = r
	})
	for i, r := range restored {
		if r != nil {
			d.units[saved[i].Config.Name] = r
		}
	}
	d.log.Info("units restored", "units", len(d.units), "duration", time.Since(start))
	d.unread = true
}

// restoreRunning rebuilds a unit's supervisor from what was saved of it:
// safe to call for several units at once. ids are what the previous
// image recorded of the unit's listeners, if anything: a listener that
// is still the very socket is adopted without activation.Matches.
func (d *Daemon) restoreRunning(u *units.Unit, s *supervise.Saved, ids []upgrade.FileID) (*running, error) {
	h := d.cfg.Handover
	cloexec := h != nil && h.Inherited != nil && h.Inherited.Cloexec
	used := make([]bool, len(s.Listeners))
	ls, err := activation.BindOwning(u.Name+".socket", &u.Socket, func(l units.Listener) int {
		for i, sl := range s.Listeners {
			if used[i] || sl.Addr != l.Address.String() {
				continue
			}
			if upgrade.SameFile(sl.FD, ids) || matches(sl.FD, l) {
				used[i] = true
				if !cloexec {
					unix.CloseOnExec(sl.FD)
				}
				return sl.FD
			}
		}
		return -1
	})
	for i, sl := range s.Listeners {
		if !used[i] {
			unix.Close(sl.FD) // on error BindOwning closed the adopted ones
		}
	}
	s.Listeners = nil
	if err != nil {
		d.dropSaved(u.Name, s)
		return nil, err
	}
	return &running{sup: supervise.Restore(u, ls, d.deps(), s)}, nil
}

// matches is activation.Matches, false on error.
func matches(fd int, l units.Listener) bool {
	ok, err := activation.Matches(fd, l)
	return err == nil && ok
}

// dropSaved stops the processes of a saved unit that this generation
// does not run, and closes its fds.
func (d *Daemon) dropSaved(name string, s *supervise.Saved) {
	for _, p := range s.Processes() {
		if p.Exited == nil {
			d.log.Warn("stopping a service of a unit this sockd does not run any more", "unit", name+".socket", "pid", p.PID)
			syscall.Kill(-p.PID, syscall.SIGTERM)
		}
	}
	s.Close()
}

// FinishRestore completes Restore once Run watches the units (wait for
// Ready): it closes the previous image's epoll, turns the garbage
// collector on, and, if the units were restored from their saved
// settings, reads the unit files and applies what changed as a reload
// does. It returns when that is done.
func (d *Daemon) FinishRestore(ctx context.Context) {
	h := d.cfg.Handover
	if h == nil {
		return
	}
	h.Inherited.CloseOldEpoll()
	h.Inherited.GCOn()
	h.Inherited.Forget() // this image runs: no rollback any more
	if !d.unread {
		return
	}
	if err := d.Reload(ctx); err != nil {
		d.log.Error("reading the unit files after the upgrade", "err", err)
	}
	// Reading 10,000 unit files made about 100 MB of garbage: return it
	// now rather than keep it resident (and have the next upgrade's
	// execve unmap it while nothing is watched).
	debug.FreeOSMemory()
}

// RollBack re-executes the previous binary with the state this image
// inherited, for an image that cannot start (upgrade.Inherited.Rollback),
// with the reaper frozen. Call it before Restore. It returns only if
// there is nothing to roll back to or the execve failed.
func (d *Daemon) RollBack(reason string) error {
	h := d.cfg.Handover
	if h == nil || h.Inherited == nil {
		return upgrade.ErrNoRollback
	}
	thaw := d.reaper.Freeze()
	defer thaw()
	d.log.Error("this sockd cannot start: rolling back to the previous binary", "reason", reason)
	return h.Inherited.Rollback(reason, d.cfg.Args)
}

// parallel calls f(0) … f(n-1) on as many goroutines as there are CPUs,
// each taking a contiguous range, and returns when every call has.
func parallel(n int, f func(i int)) {
	parts := max(1, min(runtime.GOMAXPROCS(0), n/256))
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() {
			for i := w * n / parts; i < (w+1)*n/parts; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}
