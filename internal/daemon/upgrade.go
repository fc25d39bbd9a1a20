package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units"
)

// Upgrading sockd in place (sockctl upgrade): sockd replaces its own image
// with execve(2), so its pid stays the same (it may be PID 1, or watched
// by a supervisor) and its services stay its children. What crosses the
// execve — the binary, the state and its format, the rollback — is
// internal/upgrade's; this file decides when.
//
//  1. The new binary is opened and checked on its fd
//     (upgrade.OpenBinary). The units' settings are encoded
//     (upgrade.EncodeSettings) while every unit serves, and a rehearsal
//     of the state — those very settings, and every unit's listeners —
//     is handed to `BINARY --upgrade-check`, which decodes it as the
//     new image would and reports what it would restore
//     (upgrade.CheckState). A binary that does not start, cannot decode
//     it, restores other units, reads no format this sockd writes, or
//     finds an invalid unit fails the upgrade: nothing changed.
//  2. Run parks every unit (supervise.Unit.ParkIdle for an idle unit,
//     without waking it; Park otherwise), on every CPU: it stops acting
//     on its listeners — connections queue in the kernel — and saves
//     what must cross the execve as inheritable fds. Then the control
//     server answers, and Run goes on:
//  3. The reaper is frozen, so every exit not yet delivered is left for
//     the new image to reap; the state is encoded in the format the new
//     binary reads and sockd executes the binary it checked
//     (upgrade.Exec), handing over its own binary for a rollback.
//  4. The new image restores the units (Restore), watches, then reads
//     the unit files and applies what changed (FinishRestore). If it
//     cannot start, it re-executes the previous binary with the same
//     state (upgrade.Inherited.Rollback).
//
// If the execve itself fails, the reaper thaws and the units resume.
// d.mu is taken and released by Run's execUpgrade alone.

// Info describes the running sockd for the control API.
func (d *Daemon) Info() control.Daemon {
	info := control.Daemon{
		PID: os.Getpid(), Version: d.cfg.Version, Generation: d.generation,
		Binary: d.binary, Started: d.started, Upgraded: d.upgraded, Ready: d.ready.Load(),
	}
	if h := d.cfg.Handover; h != nil && h.Inherited != nil {
		info.RolledBack = h.Inherited.RolledBack
	}
	return info
}

// execRequest is an upgrade that Upgrade hands to Run.
type execRequest struct {
	ctx    context.Context
	binary *upgrade.Binary // opened and checked
	format int
	state  prepared
	// parked receives the outcome of parking (nil: every unit is
	// parked); then Run waits for go_ (true: execute; false: resume).
	parked chan error
	go_    chan bool
}

// parkTimeout bounds how long Run waits for busy units to park.
const parkTimeout = 10 * time.Second

// commitTimeout bounds how long parked units wait for the control
// server to answer before they resume.
const commitTimeout = 10 * time.Second

// Upgrade checks binary (empty: the binary sockd was started from) and
// has Run park every unit. It returns commit, which makes Run execute
// the binary; on error nothing changed and every unit serves.
func (d *Daemon) Upgrade(ctx context.Context, binary string) (control.Daemon, func(), error) {
	info := d.Info()
	if !d.upgrading.CompareAndSwap(false, true) {
		return info, nil, errors.New("upgrade: another upgrade is in progress")
	}
	if binary == "" {
		binary = d.binary
	}
	refuse := func(err error) (control.Daemon, func(), error) {
		d.upgrading.Store(false)
		d.log.Error("upgrade refused: sockd keeps running as it is", "binary", binary, "err", err)
		return info, nil, err
	}
	bin, err := upgrade.OpenBinary(binary, os.Getuid())
	if err != nil {
		return refuse(fmt.Errorf("upgrade: %w", err))
	}
	req, err := d.prepareUpgrade(ctx, bin)
	if err != nil {
		bin.Close()
		return refuse(err)
	}
	select {
	case d.execC <- req:
	case <-d.runDone:
		bin.Close()
		return refuse(errors.New("upgrade: sockd is stopping"))
	}
	if err := <-req.parked; err != nil {
		return refuse(err) // Run closed bin
	}
	return info, func() { req.go_ <- true }, nil
}

// prepareUpgrade encodes the units' settings, runs the check with the
// rehearsal of the state, and decides the format.
func (d *Daemon) prepareUpgrade(ctx context.Context, bin *upgrade.Binary) (execRequest, error) {
	defer d.procs.work()() // encoding runs on every CPU
	d.mu.Lock()
	st, err := d.prepareState()
	d.mu.Unlock()
	if err != nil {
		return execRequest{}, err
	}
	res, err := d.checkBinary(ctx, bin, st.rehearsal)
	if err != nil {
		return execRequest{}, err
	}
	format, err := upgrade.Choose(res.StateFormats)
	if err != nil {
		return execRequest{}, fmt.Errorf("upgrade: %w", err)
	}
	switch {
	case res.State != nil && res.State.Digest != st.digest:
		return execRequest{}, fmt.Errorf("upgrade: %s decoded %d units from the state, not the %d this sockd runs (digest %.12s, want %.12s)",
			bin.Path, res.State.Units, st.units, res.State.Digest, st.digest)
	case res.State == nil && format != upgrade.FormatJSON:
		return execRequest{}, fmt.Errorf("upgrade: %s says it reads state format %d but did not decode the state", bin.Path, format)
	case res.State == nil:
		d.log.Warn("upgrade: the new binary predates the state check; it gets the JSON state it reads", "binary", bin.Path, "state_formats", res.StateFormats)
	default:
		d.log.Info("upgrade: the new binary decoded the state", "binary", bin.Path, "units", res.State.Units,
			"stopped", res.State.Stopped, "reload_adds", res.State.Added, "reload_removes", res.State.Removed, "reload_changes", res.State.Changed)
	}
	return execRequest{ctx: ctx, binary: bin, format: format, state: st, parked: make(chan error, 1), go_: make(chan bool, 1)}, nil
}

// prepared is the state prepared before the units are parked.
type prepared struct {
	settings  *upgrade.Settings
	ids       map[string][]upgrade.FileID
	rehearsal []byte // the state the check decodes
	digest    string // upgrade.Digest of the rehearsal
	units     int
}

// prepareState encodes the settings of every unit and the rehearsal of
// the state: the same settings, every unit's listeners. d.mu is held.
func (d *Daemon) prepareState() (prepared, error) {
	start := time.Now()
	cfgs := make([]*units.Unit, 0, len(d.units))
	st := prepared{ids: make(map[string][]upgrade.FileID, len(d.units))}
	rehearsal := &upgrade.State{
		Generation: d.generation, Started: d.started, Binary: d.binary, Version: d.cfg.Version,
		Units: make(map[string]*supervise.Saved, len(d.units)), IDs: st.ids,
	}
	for name, r := range d.units {
		if r.stopped() {
			rehearsal.Stopped = append(rehearsal.Stopped, name)
			continue
		}
		c := r.sup.Config()
		cfgs = append(cfgs, c)
		ls := r.sup.Listeners()
		st.ids[name] = upgrade.ListenerIDs(ls)
		sv := &supervise.Saved{Config: c}
		for _, l := range ls {
			sv.Listeners = append(sv.Listeners, supervise.SavedListener{Addr: l.Spec().Address.String(), FD: l.Fd()})
		}
		rehearsal.Units[name] = sv
	}
	var err error
	if st.settings, err = upgrade.EncodeSettings(cfgs); err != nil {
		return st, fmt.Errorf("upgrade: %w", err)
	}
	if st.rehearsal, err = upgrade.Encode(rehearsal, st.settings); err != nil {
		return st, fmt.Errorf("upgrade: %w", err)
	}
	st.digest, st.units = upgrade.Digest(rehearsal), len(rehearsal.Units)
	d.log.Info("upgrade state: units' settings encoded", "units", len(cfgs), "parts", st.settings.Parts(), "duration", time.Since(start))
	return st, nil
}

// execUpgrade is an upgrade in Run (steps 2 and 3): it parks every
// unit, waits for the commit, and re-executes sockd. It returns only if
// the upgrade did not happen, with every unit running again.
func (d *Daemon) execUpgrade(req execRequest) {
	defer d.upgrading.Store(false)
	defer req.binary.Close()
	defer d.procs.work()() // until the execve, or its failure
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	d.log.Info("upgrade: parking every unit")
	parked, err := d.parkAll(req.ctx)
	req.parked <- err
	if err != nil {
		return
	}
	d.log.Info("upgrade: every unit parked", "units", len(parked), "duration", time.Since(start))
	defer func() {
		for _, p := range parked {
			p.Resume()
		}
	}()
	select {
	case <-req.go_:
	case <-time.After(commitTimeout):
		d.log.Error("upgrade abandoned: the control server did not commit it; every unit resumes")
		return
	}
	thaw := d.reaper.Freeze()
	defer thaw()
	// A service spawned just before its unit was parked may not have
	// exec'ed yet: until it does it holds copies of sockd's fds, among
	// them the control socket's lock, which the new image takes.
	spawn.WaitChildrenExec()
	err = d.exec(req, parked)
	d.log.Error("upgrade failed: could not execute the new binary; sockd goes on as it is", "binary", req.binary.Path, "err", err)
}

// exec marks the parked units' fds inheritable, encodes the state and
// executes the new binary. It returns only on failure.
func (d *Daemon) exec(req execRequest, parked map[string]*supervise.Parked) error {
	s := &upgrade.State{
		Generation: d.generation, Started: d.started, Binary: d.binary, Version: d.cfg.Version,
		Units: make(map[string]*supervise.Saved, len(parked)), IDs: req.state.ids,
	}
	ps := make([]*supervise.Parked, 0, len(parked))
	for name, p := range parked {
		ps = append(ps, p)
		s.Units[name] = p.Saved
	}
	for name, r := range d.units {
		if _, ok := parked[name]; !ok && r.stopped() {
			s.Stopped = append(s.Stopped, name)
		}
	}
	// Final is a system call per listener: on every CPU.
	errs := make([]error, len(ps))
	parallel(len(ps), func(i int) { errs[i] = ps[i].Final() })
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var data []byte
	var err error
	if req.format == upgrade.FormatKeyed {
		// The new image closes it once it watches.
		if s.OldEpoll, err = d.watcher.Inheritable(true); err != nil {
			return err
		}
		defer d.watcher.Inheritable(false)
		data, err = upgrade.Encode(s, req.state.settings)
	} else {
		data, err = upgrade.EncodeJSON(s)
	}
	if err != nil {
		return err
	}
	d.log.Info("re-executing sockd", "binary", req.binary.Path, "generation", d.generation+1, "units", len(s.Units), "state_bytes", len(data), "state_format", req.format)
	if d.cfg.BeforeExec != nil {
		defer d.cfg.BeforeExec()() // the undo runs only if the execve failed
	}
	return upgrade.Exec(req.binary, d.cfg.Args, data)
}

// parkAll parks every running unit. If one is busy starting or stopping,
// the ones already parked resume and the whole round is tried again a
// little later (for parkTimeout at most), so that no unit stays parked
// while another is waited for. On error every unit is running again.
// d.mu is held.
func (d *Daemon) parkAll(ctx context.Context) (map[string]*supervise.Parked, error) {
	ctx, cancel := context.WithTimeout(ctx, parkTimeout)
	defer cancel()
	for {
		parked, busy, err := d.parkRound(ctx)
		if err == nil {
			return parked, nil
		}
		if !busy || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// parkRound tries to park every running unit once, on every CPU; on
// failure it resumes the ones it parked and says whether the unit that
// failed was busy.
func (d *Daemon) parkRound(ctx context.Context) (map[string]*supervise.Parked, bool, error) {
	names := make([]string, 0, len(d.units))
	for name, r := range d.units {
		if !r.stopped() {
			names = append(names, name)
		}
	}
	ps := make([]*supervise.Parked, len(names))
	errs := make([]error, len(names))
	var failed atomic.Bool
	parallel(len(names), func(i int) {
		if failed.Load() {
			return
		}
		r := d.units[names[i]]
		p, ok, err := r.sup.ParkIdle() // an idle unit, without waking it
		if !ok {
			p, err = r.sup.Park(ctx)
		}
		ps[i], errs[i] = p, err
		if err != nil {
			failed.Store(true)
		}
	})
	if failed.Load() {
		var first error
		busy := false
		for i, p := range ps {
			if p != nil {
				p.Resume()
			}
			if errs[i] != nil && first == nil {
				first = fmt.Errorf("upgrade: parking unit %s.socket: %w", names[i], errs[i])
				busy = errors.Is(errs[i], supervise.ErrBusy)
			}
		}
		return nil, busy, first
	}
	parked := make(map[string]*supervise.Parked, len(names))
	for i, p := range ps {
		parked[names[i]] = p
	}
	return parked, false, nil
}
