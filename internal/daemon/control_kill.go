package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/supervise"
)

// Kill sends sig to the processes of a unit's service (of a socket's:
// its service's), as systemctl kill does: the process group of the main
// process, of every per-connection instance and of old instances still
// draining. It fails if no process runs.
func (b *controlBackend) Kill(ctx context.Context, name string, sig syscall.Signal) error {
	u, kind, err := b.find(name)
	if err != nil {
		return err
	}
	var pids []int
	if kind == kindInstance {
		if inst, ok := u.Instance(name); ok && inst.PID > 0 {
			pids = append(pids, inst.PID)
		}
	} else {
		st := u.Status()
		if st.State == supervise.StateStarting || st.State == supervise.StateRunning || st.State == supervise.StateStopping {
			pids = append(pids, st.MainPID)
		}
		pids = append(pids, st.DrainingPIDs...)
		for _, inst := range u.Instances() {
			pids = append(pids, inst.PID)
		}
	}
	var errs []error
	sent := 0
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		// Each service leads its own process group; a process that left
		// it (or an instance still starting) gets the signal alone.
		err := unix.Kill(-pid, sig)
		if errors.Is(err, unix.ESRCH) {
			err = unix.Kill(pid, sig)
		}
		if err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("pid %d: %w", pid, err))
			continue
		}
		sent++
	}
	if err := errors.Join(errs...); err != nil {
		return control.Errorf(http.StatusInternalServerError, name, "kill: %v", err)
	}
	if sent == 0 {
		return control.Errorf(http.StatusConflict, name, "no process to kill: the service is not running")
	}
	b.d.log.Info("signal sent", "unit", name, "signal", unix.SignalName(sig), "processes", sent)
	return nil
}

// ResetFailed clears a unit's failed state, as systemctl reset-failed: a
// failed socket (a limit hit, a bind that failed) is stopped, inactive,
// until started; a service's last result is forgotten. Units that did
// not fail are left alone.
func (b *controlBackend) ResetFailed(ctx context.Context, name string) error {
	u, kind, err := b.find(name)
	if err != nil {
		return err
	}
	if kind == "socket" {
		_, bindFailed := b.d.bindFailed.get(u.Config().Name)
		if u.Status().State == supervise.StateFailed || bindFailed {
			if err := b.d.StopSocket(u.Config().Name); err != nil {
				return err
			}
		}
	}
	u.ResetResult()
	return nil
}

// ResetAllFailed is ResetFailed on every unit.
func (b *controlBackend) ResetAllFailed(ctx context.Context) error {
	var errs []error
	for _, u := range b.d.Units() {
		if err := b.ResetFailed(ctx, u.Config().Name+".socket"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
