package supervise

import (
	"context"
	"strconv"
	"time"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/units"
)

// The service watchdog (systemd.service(5) WatchdogSec=, sd_watchdog_enabled(3)):
// the main process gets WATCHDOG_USEC and WATCHDOG_PID and must send
// WATCHDOG=1 at least that often once it is running. When it does not,
// or sends WATCHDOG=trigger, sockd kills it with WatchdogSignal= (SIGABRT),
// waits TimeoutAbortSec=, and the result is "watchdog", which Restart=
// on-watchdog, on-abnormal, on-failure and always restart.

// watchdogEnv returns the variables of the main process for svc's
// watchdog; WATCHDOG_PID is set by the spawner (spawn.Spec.PidEnv).
func watchdogEnv(svc *units.Service) []string {
	if svc.Ready.Watchdog <= 0 {
		return nil
	}
	return []string{"WATCHDOG_USEC=" + strconv.FormatInt(svc.Ready.Watchdog.Microseconds(), 10)}
}

// watchdog is the timer of one main process.
type watchdog struct {
	timeout time.Duration // WatchdogSec=, or the last WATCHDOG_USEC=
	timer   *time.Timer
}

// armWatchdog starts the watchdog of the main process once it runs, as
// systemd's service_enter_running does.
func (u *Unit) armWatchdog() {
	if u.main == nil || u.cfg.Service.Ready.Watchdog <= 0 {
		return
	}
	u.main.watchdog = &watchdog{timeout: u.cfg.Service.Ready.Watchdog}
	u.main.watchdog.timer = time.NewTimer(u.main.watchdog.timeout)
}

func (p *process) watchdogC() <-chan time.Time {
	if p == nil || p.watchdog == nil || p.watchdog.timer == nil {
		return nil
	}
	return p.watchdog.timer.C
}

// watchdogNotified applies WATCHDOG=1, WATCHDOG=trigger and
// WATCHDOG_USEC= from the main process (NotifyAccess=main, systemd's
// default with a watchdog).
func (u *Unit) watchdogNotified(msg notifyMsg) {
	w := u.main.watchdog
	if w == nil || msg.PID != u.main.pid {
		return
	}
	if v, ok := msg.Fields["WATCHDOG_USEC"]; ok {
		if usec, err := strconv.ParseUint(v, 10, 63); err == nil && usec > 0 {
			w.timeout = time.Duration(usec) * time.Microsecond
			w.timer.Reset(w.timeout)
		}
	}
	switch msg.Fields["WATCHDOG"] {
	case "1":
		w.timer.Reset(w.timeout)
	case "trigger":
		u.log.Warn("the service triggered its watchdog", "service", u.cfg.Service.Name)
		w.timer.Reset(0)
	}
}

// watchdogFired kills the main process with WatchdogSignal= and handles
// its end as an exit with result "watchdog".
func (u *Unit) watchdogFired(ctx context.Context) {
	svc := u.cfg.Service // a copy, with the watchdog's signal and timeout
	u.main.watchdog.timer = nil
	u.log.Error("watchdog timeout, killing the service", "service", svc.Name, "pid", u.main.pid,
		"signal", reaper.SignalName(svc.Ready.WatchdogSignal), "timeout", u.main.watchdog.timeout)
	svc.KillSignal = svc.Ready.WatchdogSignal
	if svc.Ready.TimeoutAbort != nil {
		svc.TimeoutStop = *svc.Ready.TimeoutAbort
	}
	exit, ok := killAndWait(u.log, "service", &svc, u.main.pid, u.main.exitC(), false)
	exit.Watchdog = true
	if !ok {
		u.log.Error("service did not exit after the watchdog's signal", "service", svc.Name)
	}
	u.mainEnded(ctx, exit)
}

func (w *watchdog) stop() {
	if w != nil && w.timer != nil {
		w.timer.Stop()
	}
}
