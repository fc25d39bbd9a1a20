package supervise

import (
	"sync"
	"syscall"

	"github.com/sockd/sockd/internal/cgroup"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// Resource control (systemd.resource-control(5)): a service that sets
// TasksMax=, MemoryMax=, CPUQuota= or the like runs in a cgroup of its
// own (internal/cgroup), which every process of the service joins before
// it execs; KillMode=control-group then signals the whole cgroup.

// missingOnce logs once per sockd which controllers it cannot use.
var missingOnce sync.Once

// setupCgroup makes the service's cgroup before a start. Failures are
// logged and the service starts without it, as systemd goes on when it
// cannot realize a unit's cgroup.
func (u *Unit) setupCgroup(svc *units.Service) {
	if !svc.Resources.Any() && !guessesMainPID(svc) {
		u.cgroup = nil
		return
	}
	root, err := cgroup.Default()
	if err != nil {
		u.log.Warn("no cgroups: resource control directives are not enforced", "service", svc.Name, "err", err)
		return
	}
	if len(root.Missing) > 0 {
		missingOnce.Do(func() {
			u.log.Warn("no writable cgroup for some controllers: their directives are not enforced", "controllers", root.Missing)
		})
	}
	uid, gid := -1, -1
	if svc.Resources.Delegate && svc.User != "" {
		if uid, gid, err = spawn.OwnerOf(svc.User, svc.Group); err != nil {
			uid, gid = -1, -1 // the start fails with 217/USER
		}
	}
	g, err := root.New(svc.Name, &svc.Resources, uid, gid)
	if err != nil {
		u.log.Warn("setting up the service's cgroup", "service", svc.Name, "err", err)
	}
	u.cgroup = g
}

// guessesMainPID reports whether svc needs a cgroup to find its main
// process: Type=forking without PIDFile= (GuessMainPID=).
func guessesMainPID(svc *units.Service) bool {
	return svc.Type == units.TypeForking && svc.Ready.PIDFile == ""
}

// cgroupProcs returns the cgroup.procs files a process of the service
// joins.
func (u *Unit) cgroupProcs() []string {
	if u.cgroup == nil {
		return nil
	}
	return u.cgroup.Procs()
}

// killCgroup signals every process in the service's cgroup, with
// KillMode=control-group: also those that left its process group.
func (u *Unit) killCgroup(svc *units.Service, sig syscall.Signal) {
	if u.cgroup != nil && svc.KillMode == units.KillControlGroup {
		u.cgroup.Kill(sig)
	}
}

// removeCgroup removes the service's cgroup once it stopped.
func (u *Unit) removeCgroup() {
	if u.cgroup == nil {
		return
	}
	if err := u.cgroup.Remove(); err != nil {
		u.log.Debug("removing the service's cgroup", "err", err)
	}
}
