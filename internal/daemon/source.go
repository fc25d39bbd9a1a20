package daemon

import (
	"slices"
	"strings"

	"github.com/sockd/sockd/internal/control"

	"github.com/sockd/sockd/internal/enable"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// LoadUnits loads the units sockd runs from dirs (lowest priority
// first): every unit in them, or, with systemd set (sockd
// --systemd-units), dirs being systemd's unit search path, only the
// socket units a boot would start there: those enabled in
// sockets.target.wants/ and the other boot targets (enable.WantedSockets),
// except systemd's own (systemd-journald.socket, systemd-udevd-*.socket,
// systemd-initctl.socket, …): the systemd package links them statically,
// and they serve systemd's own daemons, which sockd does not replace.
func LoadUnits(dirs []string, systemd bool) *unitdir.Result {
	env := units.DefaultSpecifierEnv()
	if !systemd {
		return unitdir.Load(dirs, env)
	}
	names, err := enable.WantedSockets(dirs)
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, "systemd-") })
	res := unitdir.LoadSockets(dirs, names, env)
	if err != nil {
		res.Errors = append(res.Errors, err)
	}
	return res
}

// loadUnits is LoadUnits for this daemon; it logs the units left out
// without being invalid.
func (d *Daemon) loadUnits() *unitdir.Result {
	res := LoadUnits(d.cfg.UnitDirs, d.cfg.SystemdUnits)
	for _, name := range res.Masked {
		d.log.Info("unit masked, left out", "unit", name)
	}
	for _, name := range res.NotFound {
		d.log.Warn("enabled unit not found, left out", "unit", name)
	}
	return res
}

// maskedView shows a masked socket unit as systemctl shows one: loaded
// "masked", inactive (dead).
func (d *Daemon) maskedView(name string) (control.Unit, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !strings.HasSuffix(name, ".socket") || !slices.Contains(d.masked, name) {
		return control.Unit{}, false
	}
	return control.Unit{Name: name, Kind: "socket", Socket: name,
		ActiveState: "inactive", SubState: "dead", State: "masked", Result: "masked"}, true
}

// maskedViews returns the view of every masked socket unit.
func (d *Daemon) maskedViews() []control.Unit {
	d.mu.Lock()
	names := slices.Clone(d.masked)
	d.mu.Unlock()
	var out []control.Unit
	for _, n := range names {
		if v, ok := d.maskedView(n); ok {
			out = append(out, v)
		}
	}
	return out
}
