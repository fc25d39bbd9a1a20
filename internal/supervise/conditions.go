package supervise

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/sockd/sockd/internal/condition"
	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/units"
)

// conditionsMet checks, before a start, the Condition*= and Assert*= of
// the socket and service files, then runs ExecCondition=, as systemd's
// unit_start and service_enter_condition do. A failed condition (or an
// ExecCondition= command that exits 1…254) skips the start: the unit
// goes back to listening, not failed. A failed assert (or an
// ExecCondition= that exits 255, is killed or cannot run) fails the
// start.
func (u *Unit) conditionsMet(ctx context.Context) bool {
	svc := &u.cfg.Service
	r := condition.Check(u.cfg.Socket.Conditions, svc.Conditions)
	if r.OK {
		r = u.runExecCondition(ctx, svc)
	}
	u.mu.Lock()
	u.status.Condition = ""
	if !r.OK {
		u.status.Condition = r.String()
	}
	u.mu.Unlock()
	switch {
	case r.OK:
		return true
	case r.Assert:
		u.startFailed(fmt.Errorf("assertion failed: %s", r), "assert")
	default:
		u.log.Info("condition failed, not starting the service", "service", svc.Name, "condition", r.String())
		u.goListening()
	}
	return false
}

// runExecCondition runs ExecCondition= commands in turn (systemd.service(5)):
// exit 0 goes on, 1…254 is an unmet condition, 255 or a signal a failure.
func (u *Unit) runExecCondition(ctx context.Context, svc *units.Service) condition.Result {
	if len(svc.ExecCondition) == 0 {
		return condition.Result{OK: true}
	}
	env, err := u.serviceEnv(svc)
	if err != nil {
		return condition.Result{Assert: true, Failed: "ExecCondition=", Err: err}
	}
	for _, cmd := range svc.ExecCondition {
		exit, err := u.runCommand(ctx, svc, cmd, env, svc.TimeoutStart)
		failed := "ExecCondition=" + filepath.Base(cmd.Path)
		switch {
		case err != nil:
			return condition.Result{Assert: true, Failed: failed, Err: err}
		case exit.Code == "exited" && exit.Status == 0:
		case exit.Code == "exited" && exit.Status < 255:
			return condition.Result{Failed: failed + " (" + exit.String() + ")"}
		default:
			return condition.Result{Assert: true, Failed: failed, Err: fmt.Errorf("%s", exit)}
		}
	}
	return condition.Result{OK: true}
}

// runStopPost runs ExecStopPost= once the service has stopped, however
// it ended, with $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS
// (systemd.exec(5) "Environment Variables Set or Propagated by the
// Service Manager"); failures are logged.
func (u *Unit) runStopPost(result string, exit *Exit) {
	svc := &u.cfg.Service
	if len(svc.ExecStopPost) == 0 {
		return
	}
	env := []string{"SERVICE_RESULT=" + result}
	if exit != nil {
		status := strconv.Itoa(exit.Status)
		if exit.Code != "exited" {
			status = reaper.SignalName(syscall.Signal(exit.Status))
		}
		env = append(env, "EXIT_CODE="+exit.Code, "EXIT_STATUS="+status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), orInfinity(svc.TimeoutStop))
	defer cancel()
	if err := u.runCommands(ctx, svc, "ExecStopPost", svc.ExecStopPost, env, svc.TimeoutStop); err != nil {
		u.log.Warn("ExecStopPost failed", "service", svc.Name, "err", err)
	}
}

// orInfinity maps a timeout of 0 (infinity) to a very long one.
func orInfinity(d time.Duration) time.Duration {
	if d <= 0 {
		return 1<<63 - 1
	}
	return d
}
