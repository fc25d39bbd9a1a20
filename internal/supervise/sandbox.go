package supervise

import (
	"os/user"
	"strings"
	"sync"

	"github.com/sockd/sockd/internal/sandbox"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// plans caches the compiled sandbox plan of each command, so that the
// seccomp programs and the mount plan are built once per unit
// configuration, not per start or per connection. A reload makes new
// *units.Service values; the cache is emptied when it grows large.
var plans struct {
	sync.Mutex
	m map[planKey]*sandbox.Plan
}

type planKey struct {
	svc  *units.Service
	priv units.Privilege
	kind sandbox.Kind
}

// sandboxPlan returns the plan for one command of svc, nil if it needs
// none.
func sandboxPlan(svc *units.Service, cmd units.Command, kind sandbox.Kind) (*sandbox.Plan, error) {
	p, err := cachedPlan(svc, cmd, kind)
	if err != nil || p == nil || p.Full {
		return p, err
	}
	if p.NeedsPrivateTmp() {
		tmp, varTmp, err := sandbox.PrivateTmp(svc.Name)
		if err != nil {
			return nil, err
		}
		p = p.WithPrivateTmp(tmp, varTmp)
	}
	if d, err := dynamicUser(svc); err != nil || d != nil {
		if err != nil {
			return nil, err
		}
		p = p.WithDynamicUser(d)
	}
	return p, nil
}

// dynamicUser returns the DynamicUser= identity of svc: nil without the
// directive, or when User= names a user that exists (systemd then uses
// that user, statically); else an id allocated until the unit stops.
func dynamicUser(svc *units.Service) (*sandbox.DynamicUser, error) {
	if !svc.Sandbox.DynamicUser {
		return nil, nil
	}
	name := svc.User
	if name == "" {
		name = strings.TrimSuffix(strings.TrimSuffix(svc.Name, ".service"), "@")
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
	}
	if _, err := user.Lookup(name); err == nil {
		return nil, nil
	}
	return sandbox.AcquireDynamicUser(svc.Name, name)
}

func cachedPlan(svc *units.Service, cmd units.Command, kind sandbox.Kind) (*sandbox.Plan, error) {
	if cmd.Privilege == units.PrivNormal && !svc.Sandbox.Enabled() && !(kind == sandbox.ControlCommand && svc.Sandbox.PermissionsStartOnly) {
		// Nothing to compile, and nothing to cache: an Accept=yes
		// instance's *units.Service is new per connection, and caching
		// it kept up to 4096 of them alive (tests/accept TestNoLeaks).
		return nil, nil
	}
	key := planKey{svc, cmd.Privilege, kind}
	plans.Lock()
	p, ok := plans.m[key]
	plans.Unlock()
	if ok {
		return p, nil
	}
	s := &svc.Sandbox
	if len(s.InaccessiblePaths) > 0 || s.ProtectKernelTunables || s.ProtectKernelLogs || s.ProtectKernelModules {
		if err := sandbox.EnsureInaccessible(); err != nil {
			return nil, err
		}
	}
	// The service's RuntimeDirectory=, StateDirectory= and the like stay
	// writable under ProtectSystem=strict, as in systemd: sockd makes
	// them before each start (spawn.Spec.Dirs).
	var rw []string
	for _, d := range spawn.DirsOf(&svc.Dirs) {
		rw = append(rw, d.Path)
	}
	p, err := sandbox.Compile(svc, cmd, kind, sandbox.Options{RW: rw})
	if err != nil {
		return nil, err
	}
	plans.Lock()
	if plans.m == nil || len(plans.m) > 4096 {
		plans.m = map[planKey]*sandbox.Plan{}
	}
	plans.m[key] = p
	plans.Unlock()
	return p, nil
}

// releaseSandbox removes the PrivateTmp= directories of a unit whose
// service has stopped (Accept=yes units keep them while they exist, as
// their instances come and go).
func (u *Unit) releaseSandbox(s State) {
	if s != StateListening && s != StateFailed && s != StateStopped {
		return
	}
	if u.cfg == nil || u.cfg.Socket.Accept {
		return
	}
	if sb := &u.cfg.Service.Sandbox; !sb.PrivateTmp && !sb.DynamicUser {
		return
	}
	sandbox.ReleaseUnit(u.cfg.Service.Name)
}
