package supervise

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/units"
)

// mainExited handles the end of the main process: it records the exit,
// kills what is left of the process group, and either schedules a restart
// (Restart=) or goes back to listening so that the next connection starts
// the service again.
func (u *Unit) mainExited(ctx context.Context, st reaper.Status, ok bool) {
	exit := Exit{Code: "killed", Status: int(syscall.SIGKILL)}
	if ok {
		exit = exitOf(st)
	}
	u.mainEnded(ctx, exit)
}

// mainEnded is mainExited once the exit is known (or made up by the
// watchdog, watchdog.go).
func (u *Unit) mainEnded(ctx context.Context, exit Exit) {
	u.finishMain(exit)
	svc := &u.cfg.Service
	if u.stopWanted || ctx.Err() != nil {
		u.goListening()
		return
	}
	level := u.log.Info
	if !exit.success(svc) {
		level = u.log.Warn
	}
	level("service exited", "service", svc.Name, "status", exit.String())
	result := resultOf(exit)
	if exit.success(svc) {
		result = "success"
	}
	u.runStopPost(result, &exit)
	if shouldRestart(svc, exit) {
		u.mu.Lock()
		u.status.Restarts++
		u.mu.Unlock()
		u.setState(StateAutoRestart, resultOf(exit))
		u.removeRuntimeDirs(true)
		u.setTimer(svc.RestartSec, timerRestart)
		return
	}
	u.mu.Lock()
	u.status.Result = result
	u.mu.Unlock()
	u.goListening()
}

// finishMain forgets the main process after its exit, and signals what
// remains of its process group (KillMode=control-group and mixed), as
// systemd does when the main process of a service exits.
func (u *Unit) finishMain(exit Exit) {
	if u.main == nil {
		return
	}
	killRest(&u.cfg.Service, u.main.pid)
	u.killCgroup(&u.cfg.Service, u.cfg.Service.KillSignal)
	u.drainNotify() // fdstore.go: an FDSTORE=1 sent just before the exit is kept
	u.main.exited = true
	u.main.close()
	u.main = nil
	u.mu.Lock()
	u.status.MainPID = 0
	u.status.LastExit = &exit
	u.mu.Unlock()
}

// killRest signals what remains of the process group of svc's process
// pid once that process has exited (and was reaped): KillSignal= with
// KillMode=control-group, SIGKILL with KillMode=mixed. An empty group
// costs one kill(2), which fails.
func killRest(svc *units.Service, pid int) {
	switch svc.KillMode {
	case units.KillControlGroup:
		signalGroup(pid, svc.KillSignal, false)
	case units.KillMixed:
		signalGroup(pid, syscall.SIGKILL, false)
	}
}

func resultOf(e Exit) string {
	switch {
	case e.Watchdog:
		return "watchdog"
	case e.Timeout:
		return "timeout"
	case e.Clean():
		return "success"
	case e.Code == "exited":
		return "exit-code"
	case e.Code == "dumped":
		return "core-dump"
	}
	return "signal"
}

// stopService stops the running service: ExecStop=, then KillSignal= to
// the process group (or the main process, per KillMode=), then, after
// TimeoutStopSec=, SIGKILL (SendSIGKILL=). It returns once the main
// process is gone; the unit is then listening again.
func (u *Unit) stopService(ctx context.Context, why string) {
	u.stopServiceResult(ctx, why, false)
}

func (u *Unit) stopServiceResult(ctx context.Context, why string, timedOut bool) {
	if u.main == nil {
		return
	}
	svc := &u.cfg.Service
	u.stopWanted = true
	u.setState(StateStopping, "")
	u.log.Info("stopping service", "service", svc.Name, "reason", why)
	if err := u.runCommands(context.WithoutCancel(ctx), svc, "ExecStop", svc.ExecStop, u.mainPIDEnv(), svc.TimeoutStop); err != nil {
		u.log.Warn("ExecStop failed", "err", err)
	}
	exit, ok := u.killAndWait(svc)
	if timedOut {
		exit.Timeout = true
	}
	u.finishMain(exit)
	if !ok {
		u.log.Error("service did not exit after SIGKILL", "service", svc.Name)
	}
	u.log.Info("service stopped", "service", svc.Name, "status", exit.String())
	result := ""
	if timedOut {
		result = "timeout"
	}
	stopResult := result
	if stopResult == "" {
		stopResult = "success"
	}
	u.runStopPost(stopResult, &exit)
	u.setState(StateListening, result)
	u.removeRuntimeDirs(u.restarting)
	u.removeCgroup()
	u.rearm()
}

// killAndWait signals the main process per KillMode= and waits for it,
// escalating to SIGKILL after TimeoutStopSec=.
func (u *Unit) killAndWait(svc *units.Service) (Exit, bool) {
	exitC := u.main.exitC()
	if exitC == nil {
		return Exit{}, true
	}
	if u.restarting && svc.Exits.RestartKillSignal != 0 {
		restart := *svc
		restart.KillSignal = svc.Exits.RestartKillSignal
		svc = &restart
	}
	u.killCgroup(svc, svc.KillSignal)
	return killAndWait(u.log, "service", svc, u.main.pid, exitC, false)
}

// killAndWait stops the process pid of svc (the main process or an
// Accept=yes instance): KillSignal= to its process group, or to the
// process alone per KillMode=, then, after TimeoutStopSec=, SIGKILL
// (SendSIGKILL=). With KillMode=mixed the rest of the group gets SIGKILL
// once the process is gone when killRest is set. what ("service",
// "instance") starts the log messages. ok is false if the
// reaper stopped before the exit was seen.
func killAndWait(log *slog.Logger, what string, svc *units.Service, pid int, exitC <-chan reaper.Status, killRest bool) (exit Exit, ok bool) {
	switch svc.KillMode {
	case units.KillProcess, units.KillMixed:
		signalPID(pid, svc.KillSignal)
	default:
		killGroup(pid, svc.KillSignal)
	}
	var timeout <-chan time.Time
	if svc.TimeoutStop > 0 {
		t := time.NewTimer(svc.TimeoutStop)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case st, ok := <-exitC:
		if killRest && svc.KillMode == units.KillMixed {
			killGroup(pid, syscall.SIGKILL)
		}
		return exitFrom(st, ok), ok
	case <-timeout:
	}
	if !svc.SendSIGKILL {
		log.Warn(what+" still running after TimeoutStopSec=, SendSIGKILL=no: leaving it", "service", svc.Name, "pid", pid)
		st, ok := <-exitC
		return exitFrom(st, ok), ok
	}
	final := svc.Exits.FinalKillSignal
	if final == 0 { // settings made without units' defaults
		final = syscall.SIGKILL
	}
	log.Warn(what+" did not stop in time, sending SIG"+reaper.SignalName(final), "service", svc.Name, "pid", pid, "timeout", svc.TimeoutStop)
	if svc.KillMode == units.KillProcess {
		signalPID(pid, final)
	} else {
		killGroup(pid, final)
	}
	st, ok := <-exitC
	e := exitFrom(st, ok)
	e.Timeout = true
	return e, ok
}

func exitFrom(st reaper.Status, ok bool) Exit {
	if !ok {
		return Exit{Code: "killed", Status: int(syscall.SIGKILL)}
	}
	return exitOf(st)
}

// killGroup sends sig, then SIGCONT, to the process group led by pid
// (each service is its own session and group), pid being a process not
// reaped yet. Until pid has called setsid its group does not exist (an
// Accept=yes instance is started without waiting for that,
// spawn.Spec.NoSessionWait): then the signal goes to pid, which blocks
// every signal until it has reset their handlers and so gets it once it
// has, and to the group again, in case it was made in between.
func killGroup(pid int, sig os.Signal) {
	signalGroup(pid, sig.(syscall.Signal), true)
}

// signalGroup sends s, then SIGCONT, to the process group pid; when the
// group does not exist, to pid and the group again if orPID is set, and
// else to nothing (the group is gone).
func signalGroup(pid int, s syscall.Signal, orPID bool) {
	if err := unix.Kill(-pid, s); err == unix.ESRCH {
		if !orPID || unix.Kill(pid, s) != nil {
			return // gone
		}
		_ = unix.Kill(-pid, s)
	}
	if s != syscall.SIGKILL && s != syscall.SIGCONT {
		signalGroup(pid, syscall.SIGCONT, orPID)
	}
}

func signalPID(pid int, sig syscall.Signal) {
	_ = unix.Kill(pid, sig)
	if sig != syscall.SIGKILL && sig != syscall.SIGCONT {
		_ = unix.Kill(pid, syscall.SIGCONT)
	}
}
