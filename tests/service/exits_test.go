package service_test

import (
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/control"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// crashOnce starts (sockctl start, so that no connection waits in the
// backlog and activates it again) a unit whose probe exits 1 right after
// its report, and waits until the unit's status satisfies settled.
func crashOnce(t *testing.T, name string, service []string, settled func(control.Unit) bool, unitLines ...string) control.Unit {
	t.Helper()
	s := start(t, probeUnits(name, "-crash", service, unitLines...))
	if out, code := sockctl(t, s, "start", name+".service"); code != 0 {
		t.Fatalf("sockctl start: %d %s", code, out)
	}
	return waitStatus(t, s, name+".service", settled)
}

func restarted(u control.Unit) bool { return u.Restarts > 0 }
func settled(u control.Unit) bool {
	return u.LastExit != nil && (u.State == "listening" || u.State == "failed")
}

// TestSuccessExitStatus: an exit code listed in SuccessExitStatus= is a
// success: Restart=on-failure does not restart it and the result is
// success.
func TestSuccessExitStatus(t *testing.T) {
	u := crashOnce(t, "succ", []string{"Restart=on-failure", "RestartSec=50ms", "SuccessExitStatus=1 SIGUSR2"}, settled)
	if u.Restarts != 0 || u.Result != "success" {
		t.Errorf("restarts %d, result %q; want 0 and success", u.Restarts, u.Result)
	}
}

// TestRestartPreventExitStatus wins over Restart=always.
func TestRestartPreventExitStatus(t *testing.T) {
	u := crashOnce(t, "prevent", []string{"Restart=always", "RestartSec=50ms", "RestartPreventExitStatus=1"}, settled)
	if u.Restarts != 0 || u.Result != "exit-code" {
		t.Errorf("restarts %d, result %q; want 0 and exit-code", u.Restarts, u.Result)
	}
}

// TestRestartForceExitStatus restarts despite Restart=no.
func TestRestartForceExitStatus(t *testing.T) {
	crashOnce(t, "force", []string{"Restart=no", "RestartSec=50ms", "RestartForceExitStatus=1"}, restarted)
}

// TestStartLimit: docker.service's old [Service] spelling of the start
// limit fails the unit after StartLimitBurst= starts.
func TestStartLimit(t *testing.T) {
	u := crashOnce(t, "limit", []string{"Restart=always", "RestartSec=10ms", "StartLimitInterval=60s", "StartLimitBurst=2"},
		func(u control.Unit) bool { return u.State == "failed" })
	if u.Result != "start-limit-hit" || u.Restarts != 2 {
		t.Errorf("result %q after %d restarts; want start-limit-hit after 2", u.Result, u.Restarts)
	}
}
