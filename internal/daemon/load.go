package daemon

import (
	"slices"

	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units"
)

// load reads the unit files and starts each valid unit: from what s
// saved of it, if anything, or with listeners adopted from in or bound.
// d.mu is held.
func (d *Daemon) load(in *inherited, s *upgrade.State) {
	res := d.loadUnits() // source.go
	for _, err := range units.Errors(res.Err()) {
		d.log.Error("invalid unit", "err", err)
	}
	d.invalid = res.Invalid
	d.masked = res.Masked
	defer in.closeUnused(d.log)
	var fresh []*units.Unit
	for _, u := range res.Units {
		if s == nil {
			fresh = append(fresh, u)
			continue
		}
		if slices.Contains(s.Stopped, u.Name) {
			d.units[u.Name] = &running{sup: d.stoppedSupervisor(u)}
			continue
		}
		sv, ok := s.Units[u.Name]
		if !ok {
			fresh = append(fresh, u)
			continue
		}
		delete(s.Units, u.Name)
		if r, err := d.restoreRunning(u, sv, nil); err != nil {
			d.log.Error("unit failed", "unit", u.Name+".socket", "err", err)
		} else {
			d.units[u.Name] = r
		}
	}
	ls, errs := in.bindAll(fresh, d.bindHooked) // sockethooks.go: [Socket] ExecStartPre=/Post=
	for i, u := range fresh {
		if errs[i] != nil {
			d.failBind(u, errs[i]) // bindfail.go
			continue
		}
		d.units[u.Name] = &running{sup: d.supervisor(u, ls[i])}
	}
}
