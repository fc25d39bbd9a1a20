package supervise

import (
	"fmt"
	"syscall"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// Exit describes how a service process ended, as systemctl status shows
// it: "code=exited, status=203/EXEC" or "code=killed, signal=KILL".
type Exit struct {
	Code   string // "exited", "killed" or "dumped"
	Status int    // the exit status, or the signal number
	// Timeout is true when sockd killed the process because a timeout
	// expired (TimeoutStartSec=, TimeoutStopSec=).
	Timeout bool
	// Watchdog is true when sockd killed it for its watchdog.
	Watchdog bool
}

func exitOf(st reaper.Status) Exit {
	switch {
	case st.Wait.Exited():
		return Exit{Code: "exited", Status: st.Wait.ExitStatus()}
	case st.Wait.CoreDump():
		return Exit{Code: "dumped", Status: int(st.Wait.Signal())}
	default:
		return Exit{Code: "killed", Status: int(st.Wait.Signal())}
	}
}

func (e Exit) String() string {
	if e.Code == "exited" {
		return fmt.Sprintf("code=exited, status=%s", spawn.ExitCodeName(e.Status))
	}
	return fmt.Sprintf("code=%s, signal=%s", e.Code, reaper.SignalName(syscall.Signal(e.Status)))
}

// Clean reports whether systemd counts the exit as clean: status 0, or
// death by SIGHUP, SIGINT, SIGTERM or SIGPIPE.
func (e Exit) Clean() bool {
	if e.Timeout || e.Watchdog {
		return false
	}
	if e.Code == "exited" {
		return e.Status == 0
	}
	switch syscall.Signal(e.Status) {
	case syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE:
		return e.Code == "killed"
	}
	return false
}

// success reports whether the exit counts as a success for svc: Clean,
// or an exit code or signal listed in SuccessExitStatus=.
func (e Exit) success(svc *units.Service) bool {
	if e.Clean() {
		return true
	}
	if e.Timeout || e.Watchdog {
		return false
	}
	if e.Code == "exited" {
		return svc.Exits.Success.HasCode(e.Status)
	}
	return svc.Exits.Success.HasSignal(syscall.Signal(e.Status))
}

// listedIn reports whether the exit's code or signal is in set.
func (e Exit) listedIn(set units.ExitStatusSet) bool {
	if e.Code == "exited" {
		return set.HasCode(e.Status)
	}
	return set.HasSignal(syscall.Signal(e.Status))
}

// shouldRestart applies RestartPreventExitStatus=, then
// RestartForceExitStatus=, then Restart= (systemd.service(5), table
// "Exit causes and the effect of the Restart= settings"), as systemd's
// service_shall_restart does.
func shouldRestart(svc *units.Service, e Exit) bool {
	judged := !e.Timeout && !e.Watchdog // exit codes and signals of the service's own making
	if judged && e.listedIn(svc.Exits.RestartPrevent) {
		return false
	}
	if judged && e.listedIn(svc.Exits.RestartForce) {
		return true
	}
	unclean := !e.success(svc)
	signal := e.Code != "exited" && unclean && !e.Watchdog
	switch svc.Restart {
	case units.RestartAlways:
		return true
	case units.RestartOnSuccess:
		return !unclean
	case units.RestartOnFailure:
		return unclean
	case units.RestartOnAbnormal:
		return signal || e.Timeout || e.Watchdog
	case units.RestartOnWatchdog:
		return e.Watchdog
	case units.RestartOnAbort:
		return signal
	}
	return false
}
