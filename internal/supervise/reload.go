package supervise

import (
	"context"
	"errors"
	"fmt"
)

// errNotActive and errNoReload answer a reload that cannot be done, as
// systemctl reload answers it.
var (
	errNotActive = errors.New("the service is not active; start it first")
	errNoReload  = errors.New("the service has no ExecReload=; reload is not applicable")
)

// reloadService runs ExecReload= with $MAINPID, each command to its end
// within TimeoutStartSec=, as systemd's service_enter_reload does; the
// service keeps running whatever the outcome, and the failure is
// returned.
func (u *Unit) reloadService(ctx context.Context) error {
	svc := &u.cfg.Service
	if len(svc.ExecReload) == 0 {
		return errNoReload
	}
	if u.main == nil || u.state != StateRunning {
		return errNotActive
	}
	u.log.Info("reloading service", "service", svc.Name)
	if err := u.runCommands(ctx, svc, "ExecReload", svc.ExecReload, u.mainPIDEnv(), svc.TimeoutStart); err != nil {
		u.log.Error("reload failed", "service", svc.Name, "err", err)
		return fmt.Errorf("reload of %s failed: %w", svc.Name, err)
	}
	return nil
}
