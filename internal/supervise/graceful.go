package supervise

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sockd/sockd/units"
)

// Graceful restart (OpGracefulRestart, `sockctl restart --graceful`) of
// an Accept=no service: a new main process is started beside the running
// one, with the same listeners and the fd store, so that both accept from
// the same queues for a while. Once the new one is ready (READY=1 for
// Type=notify within TimeoutStartSec=; for simple and exec, having run
// GracefulReadySec= after its exec) and ExecStartPost= succeeded, it
// becomes the main process and the old one is stopped in the background
// with the normal stop sequence, so that it can finish the requests it
// took while the unit's goroutine goes on. A new instance that fails
// before it is ready is stopped and the old one keeps serving.
//
// The whole start runs on the Run goroutine, which meanwhile follows the
// old process too: its exit is no failure of the restart and never
// triggers Restart=. Each old process being stopped ("draining") is owned
// by a goroutine counted in Unit.draining; OpStop and Run wait for them.

// gracefulRestart handles OpGracefulRestart on the Run goroutine. A
// service that is not running is simply started.
func (u *Unit) gracefulRestart(ctx context.Context) error {
	if u.main == nil {
		u.stopTimer()
		u.startService(ctx, startGracefulNotAlive)
		if u.main == nil || u.state != StateRunning {
			return fmt.Errorf("graceful restart of %s: it was not running, and starting it failed (result %s)",
				u.cfg.Service.Name, u.Status().Result)
		}
		return nil
	}
	cfg := u.cfg
	if u.pending != nil { // a reload's settings apply to the new instance
		cfg = u.pending
	}
	if cfg.Socket.Accept {
		return gracefulAcceptError(cfg.Service.Name)
	}
	if t := cfg.Service.Type; t == units.TypeForking || t == units.TypeOneshot {
		return fmt.Errorf("graceful restart of %s refused: Type=%s has no main process sockd started to run beside", cfg.Service.Name, t)
	}
	svc := &cfg.Service
	oldPID := u.main.pid
	u.log.Info("graceful restart: starting a new instance", "service", svc.Name, "old_pid", oldPID)
	nw, statusText, err := u.startNew(ctx, svc)
	if err != nil {
		return u.gracefulFailed(svc, oldPID, err)
	}
	u.promote(cfg, nw, statusText)
	return nil
}

func gracefulAcceptError(service string) error {
	return fmt.Errorf("graceful restart of %s refused: with Accept=yes sockd starts an instance per connection, there is no main process to replace", service)
}

// gracefulFailed logs and returns the error of a graceful restart whose
// new instance failed (and has been stopped). If the old instance exited
// meanwhile, the unit goes back to listening.
func (u *Unit) gracefulFailed(svc *units.Service, oldPID int, err error) error {
	outcome := fmt.Sprintf("old instance (pid %d) keeps serving", oldPID)
	if u.main == nil {
		outcome = fmt.Sprintf("old instance (pid %d) exited meanwhile; the next connection starts the service", oldPID)
		u.goListening()
	}
	err = fmt.Errorf("graceful restart of %s failed: %w; %s", svc.Name, err, outcome)
	u.log.Error("graceful restart failed", "service", svc.Name, "err", err)
	return err
}

// startNew runs ExecStartPre=, starts the new instance, waits until it is
// ready and runs ExecStartPost=. It returns the ready instance and its
// last STATUS=, or an error once the new instance is stopped.
func (u *Unit) startNew(ctx context.Context, svc *units.Service) (*process, string, error) {
	if err := u.runCommands(ctx, svc, "ExecStartPre", svc.ExecStartPre, nil, svc.TimeoutStart); err != nil {
		return nil, "", err
	}
	nw, err := u.spawnProcess(svc, false)
	if err != nil {
		return nil, "", fmt.Errorf("new instance not started: %w", err)
	}
	statusText, err := u.awaitReady(ctx, svc, nw)
	if err == nil {
		env := []string{"MAINPID=" + strconv.Itoa(nw.pid)}
		err = u.runCommands(ctx, svc, "ExecStartPost", svc.ExecStartPost, env, svc.TimeoutStart)
	}
	if err != nil {
		u.stopNew(svc, nw)
		return nil, "", err
	}
	return nw, statusText, nil
}

// awaitReady waits until the new instance nw is ready, handling the old
// main process's notifications and exit meanwhile. It returns the last
// STATUS= of nw.
func (u *Unit) awaitReady(ctx context.Context, svc *units.Service, nw *process) (string, error) {
	var deadline, settled <-chan time.Time
	if svc.TimeoutStart > 0 {
		t := time.NewTimer(svc.TimeoutStart)
		defer t.Stop()
		deadline = t.C
	}
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	var statusText string
	var execErr error
	execDone := nw.proc.ExecDone()
	for {
		select {
		case <-execDone:
			execDone = nil
			if execErr = nw.proc.WaitExec(); execErr != nil {
				continue // its exit follows
			}
			if svc.Type != units.TypeNotify {
				settle.Reset(svc.GracefulReady)
				settled, deadline = settle.C, nil
			}
		case <-settled:
			return statusText, nil
		case msg := <-nw.notifyC():
			if u.newNotified(nw, msg, &statusText) {
				return statusText, nil
			}
		case st, ok := <-nw.exitC():
			nw.exited = true
			exit := exitFrom(st, ok)
			if execErr != nil {
				return "", fmt.Errorf("new instance (pid %d) failed to execute: %v (%s)", nw.pid, execErr, exit)
			}
			return "", fmt.Errorf("new instance (pid %d) exited with %s before it was ready", nw.pid, exit)
		case st, ok := <-u.main.exitC():
			u.oldExited(exitFrom(st, ok))
		case msg := <-u.main.notifyC():
			u.notified(msg)
		case <-deadline:
			if svc.Type == units.TypeNotify {
				return "", fmt.Errorf("new instance (pid %d) did not send READY=1 within TimeoutStartSec=%s", nw.pid, svc.TimeoutStart)
			}
			return "", fmt.Errorf("new instance (pid %d) was not executed within TimeoutStartSec=%s", nw.pid, svc.TimeoutStart)
		case <-ctx.Done():
			return "", errors.New("sockd is stopping")
		}
	}
}

// newNotified applies a notification of the new instance nw before it
// is ready: fd store changes at once, STATUS= into *statusText. It
// reports READY=1.
func (u *Unit) newNotified(nw *process, msg notifyMsg, statusText *string) bool {
	if !inSession(msg.PID, nw.pid) {
		u.log.Warn("ignoring notification from a process outside the new instance", "pid", msg.PID)
		closeFiles(msg.Files)
		return false
	}
	if len(msg.Files) > 0 || msg.FDStoreRemove {
		u.storeNotified(msg) // fdstore.go; owns msg.Files
	}
	if msg.Status != nil {
		*statusText = *msg.Status
	}
	return msg.Ready
}

// oldExited handles the exit of the old main process while the new one
// is starting: no failure, no Restart=; the new one is awaited as before.
func (u *Unit) oldExited(exit Exit) {
	u.log.Warn("old instance exited during the graceful restart; not restarting it",
		"service", u.cfg.Service.Name, "pid", u.main.pid, "status", exit.String())
	u.finishMain(exit)
	u.setState(StateStarting, "")
}

// stopNew stops a new instance that failed before it became ready:
// KillSignal=, TimeoutStopSec=, SIGKILL, but no ExecStop=, which could
// act on the old instance.
func (u *Unit) stopNew(svc *units.Service, nw *process) {
	if exitC := nw.exitC(); exitC != nil {
		u.log.Info("stopping the new instance", "service", svc.Name, "pid", nw.pid)
		exit, _ := killAndWait(u.log, "new instance", svc, nw.pid, exitC, true)
		nw.exited = true
		u.log.Info("new instance stopped", "service", svc.Name, "pid", nw.pid, "status", exit.String())
	}
	killRest(svc, nw.pid)
	nw.close()
}

// promote makes the ready new instance nw the main process under cfg
// and stops the old one, if it still runs, in the background.
func (u *Unit) promote(cfg *units.Unit, nw *process, statusText string) {
	old, oldSvc := u.main, &u.cfg.Service
	if old != nil {
		u.drainNotify() // fdstore.go: what it sent so far (FDSTORE=1) still counts
		old.close()     // what it sends from now on is not read
	}
	u.main = nw
	if cfg != u.cfg {
		u.useConfig(cfg)
	}
	u.mu.Lock()
	u.status.MainPID, u.status.StatusText, u.status.NotifiedMainPID = nw.pid, statusText, 0
	u.mu.Unlock()
	u.setState(StateRunning, "success")
	u.log.Info("graceful restart: the new instance is ready", "service", cfg.Service.Name, "pid", nw.pid)
	if old != nil {
		u.drainOld(oldSvc, old)
	}
}

// drainOld stops the old main process p of svc on a goroutine counted in
// u.draining, and lists it in the status until it is gone.
func (u *Unit) drainOld(svc *units.Service, p *process) {
	u.mu.Lock()
	u.status.DrainingPIDs = append(u.status.DrainingPIDs, p.pid)
	u.mu.Unlock()
	u.draining.Add(1)
	go func() {
		defer u.draining.Done()
		exit := u.stopOld(svc, p)
		u.mu.Lock()
		u.status.DrainingPIDs = slices.DeleteFunc(u.status.DrainingPIDs, func(pid int) bool { return pid == p.pid })
		u.mu.Unlock()
		u.log.Info("old instance stopped", "service", svc.Name, "pid", p.pid, "status", exit.String())
	}()
}

// stopOld runs the stop sequence on the old main process p: ExecStop=
// with its $MAINPID, KillSignal= per KillMode=, TimeoutStopSec=, SIGKILL.
// It runs on its own goroutine and touches only p and what is safe to
// share (the log, the reaper, svc, which is never modified).
func (u *Unit) stopOld(svc *units.Service, p *process) Exit {
	u.log.Info("stopping the old instance, which drains its connections", "service", svc.Name, "pid", p.pid)
	env := []string{"MAINPID=" + strconv.Itoa(p.pid)}
	if err := u.runCommands(context.Background(), svc, "ExecStop", svc.ExecStop, env, svc.TimeoutStop); err != nil {
		u.log.Warn("ExecStop failed", "service", svc.Name, "pid", p.pid, "err", err)
	}
	exit, ok := killAndWait(u.log, "old instance", svc, p.pid, p.exitC(), true)
	if !ok {
		u.log.Error("old instance: its exit was not seen (the reaper stopped)", "service", svc.Name, "pid", p.pid)
	}
	killRest(svc, p.pid)
	return exit
}

// drainingErr is Park's error while old instances of a graceful restart
// are being stopped: a Saved has no room for them, and the goroutines
// that stop them would not cross the execve. It wraps ErrBusy, so that an
// upgrade waits and tries again.
func (u *Unit) drainingErr() error {
	if pids := u.Status().DrainingPIDs; len(pids) > 0 {
		return fmt.Errorf("%w: draining %v after a graceful restart", ErrBusy, pids)
	}
	return nil
}

// waitDrained waits until every old instance being stopped is gone.
func (u *Unit) waitDrained() {
	if pids := u.Status().DrainingPIDs; len(pids) > 0 {
		u.logger().Info("waiting for the old instances to stop", "pids", pids)
	}
	u.draining.Wait()
}
