package daemon

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/systemdfile"
	"github.com/sockd/sockd/units/unitdir"
)

// isSocketInstance reports whether name ("web@1.socket") names an
// instance of a template socket unit.
func isSocketInstance(name string) bool {
	n, err := units.ParseUnitName(name)
	return err == nil && n.Suffix == "socket" && n.Template && n.Instance != ""
}

// StartInstance loads the instance name ("web@1.socket") of a template
// socket unit from the unit directories, binds it and supervises it, as
// `systemctl start web@1.socket` does. The instance is a unit of its own:
// it stays loaded across reloads while its template exists, and `sockctl
// stop` stops it like any socket. An instance already loaded is left as
// it is.
func (d *Daemon) StartInstance(name string) error {
	n, err := units.ParseUnitName(name)
	if err != nil {
		return control.Errorf(http.StatusBadRequest, name, "%v", err)
	}
	u, err := unitdir.LoadInstance(d.cfg.UnitDirs, name, units.DefaultSpecifierEnv())
	var nf *systemdfile.NotFoundError
	switch {
	case errors.As(err, &nf) && nf.Name == name:
		return control.NoSuchUnit(name)
	case err != nil:
		return fmt.Errorf("unit %s: %w", name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runCtx == nil {
		return ErrNotRunning
	}
	if _, ok := d.units[u.Name]; ok {
		return nil
	}
	if err := conflicts(d.configs(), u); err != nil {
		return err
	}
	d.log.Info("starting an instance of a template socket unit", "unit", name, "template", units.InstanceName(n.String(), ""))
	return d.addUnit(u)
}

// conflicts returns the address conflicts between u and the units loaded
// (which have none among themselves).
func conflicts(loaded []*units.Unit, u *units.Unit) error {
	if bad, errs := units.ValidateSet(append(loaded, u)); len(bad) > 0 {
		return fmt.Errorf("unit %s.socket: %w", u.Name, errors.Join(errs...))
	}
	return nil
}

// keepInstances adds to res the instances of template socket units that
// were started by name and that res does not have: a reload re-reads
// them from their template, and keeps them while it exists.
func (d *Daemon) keepInstances(res *unitdir.Result) {
	have := map[string]bool{}
	for _, u := range res.Units {
		have[u.Name] = true
	}
	for name := range d.units {
		if have[name] || !isSocketInstance(name+".socket") {
			continue
		}
		u, err := unitdir.LoadInstance(d.cfg.UnitDirs, name, units.DefaultSpecifierEnv())
		if err != nil {
			d.log.Warn("instance of a template socket unit no longer loads", "unit", name+".socket", "err", err)
			continue
		}
		res.Units = append(res.Units, u)
	}
}
