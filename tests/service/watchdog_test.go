package service_test

import (
	"fmt"
	"testing"

	"github.com/sockd/sockd/internal/control"
)

// TestWatchdog: the service sees its watchdog from its own side
// (sd_watchdog_enabled: WATCHDOG_USEC, and WATCHDOG_PID its own pid);
// once it stops sending WATCHDOG=1, sockd kills it with WatchdogSignal=
// (SIGABRT) and Restart=on-watchdog starts it again.
func TestWatchdog(t *testing.T) {
	s := start(t, probeUnits("wd", "-watchdog-beats 2", []string{"WatchdogSec=1s", "Restart=on-watchdog", "RestartSec=10ms"}))
	r := askReport(t, s, "wd")
	if r.Process.WatchdogUsec != 1000000 || r.env("WATCHDOG_PID") != fmt.Sprint(r.Pid) {
		t.Fatalf("the probe's watchdog: %d µs, WATCHDOG_PID=%s (pid %d); want 1000000 and its pid",
			r.Process.WatchdogUsec, r.env("WATCHDOG_PID"), r.Pid)
	}
	waitLog(t, s, fmt.Sprintf("probe: pid %d stopped sending WATCHDOG=1", r.Pid))
	waitLog(t, s, fmt.Sprintf(`msg="watchdog timeout, killing the service" unit=wd.socket service=wd.service pid=%d signal=ABRT`, r.Pid))
	u := waitStatus(t, s, "wd.service", func(u control.Unit) bool { return u.Restarts == 1 && u.MainPID != 0 })
	if u.MainPID == r.Pid {
		t.Errorf("the same pid %d runs after the restart", u.MainPID)
	}
}

// TestWatchdogNoRestart: Restart=on-failure restarts after the watchdog
// too; Restart=on-abort does not (systemd.service(5)'s table).
func TestWatchdogNoRestart(t *testing.T) {
	s := start(t, probeUnits("wdn", "-watchdog-beats 0", []string{"WatchdogSec=500ms", "Restart=on-abort", "WatchdogSignal=SIGKILL"}))
	r := askReport(t, s, "wdn")
	u := waitStatus(t, s, "wdn.service", func(u control.Unit) bool { return u.LastExit != nil && u.State == "listening" })
	if u.Restarts != 0 || u.Result != "watchdog" || u.LastExit.Status != 9 {
		t.Errorf("pid %d: restarts %d, result %q, last exit %+v; want 0, watchdog, SIGKILL", r.Pid, u.Restarts, u.Result, u.LastExit)
	}
}
