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
	if e.Timeout {
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

// shouldRestart applies Restart= (systemd.service(5), table "Exit causes
// and the effect of the Restart= settings").
func shouldRestart(p units.RestartPolicy, e Exit) bool {
	unclean := !e.Clean()
	signal := e.Code != "exited" && unclean
	switch p {
	case units.RestartAlways:
		return true
	case units.RestartOnSuccess:
		return !unclean
	case units.RestartOnFailure:
		return unclean
	case units.RestartOnAbnormal:
		return signal || e.Timeout
	case units.RestartOnAbort:
		return signal
	}
	return false
}
