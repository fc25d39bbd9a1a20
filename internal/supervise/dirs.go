package supervise

import (
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// removeRuntimeDirs removes the service's RuntimeDirectory= entries once
// it has stopped, as systemd does unless RuntimeDirectoryPreserve=yes,
// or =restart while the service is about to be restarted (restarting).
// The other kinds of exec directories are never removed.
func (u *Unit) removeRuntimeDirs(restarting bool) {
	d := &u.cfg.Service.Dirs
	if len(d.Paths[units.DirRuntime]) == 0 || d.RuntimePreserve == "yes" || restarting && d.RuntimePreserve == "restart" {
		return
	}
	var runtime []spawn.Dir
	for _, dir := range spawn.DirsOf(d) {
		if dir.Kind == units.DirRuntime {
			runtime = append(runtime, dir)
		}
	}
	if err := spawn.RemoveDirs(runtime); err != nil {
		u.log.Warn("removing the runtime directories", "service", u.cfg.Service.Name, "err", err)
	}
}
