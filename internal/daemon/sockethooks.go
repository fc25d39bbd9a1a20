package daemon

import (
	"context"
	"errors"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// bindHooked makes u's listeners with bind, between the socket unit's
// ExecStartPre= and ExecStartPost= (systemd.socket(5)): ExecStartPre= runs
// before anything is bound (sssd's units create the directory of their
// socket path there), ExecStartPost= once every listener is bound and
// owned. If either fails the unit does not start: the listeners made are
// closed and removed, and ExecStopPost= runs, as systemd does.
// ExecStopPre= and ExecStopPost= of a socket that stops run in
// supervise.Unit.Close.
func (d *Daemon) bindHooked(u *units.Unit, bind func() ([]*activation.Listener, error)) ([]*activation.Listener, error) {
	ctx := context.Background() // each command has TimeoutSec=
	deps := d.deps()
	h := &u.Socket.Helpers
	if len(h.ExecStartPre) > 0 {
		if err := supervise.RunSocketCommands(ctx, deps, u, "ExecStartPre"); err != nil {
			return nil, errors.Join(err, d.stopPost(ctx, u))
		}
	}
	ls, err := bind()
	if err != nil || len(h.ExecStartPost) == 0 {
		return ls, err
	}
	if err := supervise.RunSocketCommands(ctx, deps, u, "ExecStartPost"); err != nil {
		for _, l := range ls {
			_ = l.Close()
			_ = l.Remove()
		}
		return nil, errors.Join(err, d.stopPost(ctx, u))
	}
	return ls, nil
}

// stopPost runs ExecStopPost= after a failed start.
func (d *Daemon) stopPost(ctx context.Context, u *units.Unit) error {
	if len(u.Socket.Helpers.ExecStopPost) == 0 {
		return nil
	}
	return supervise.RunSocketCommands(ctx, d.deps(), u, "ExecStopPost")
}
