package sockctl_test

import (
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/control"
)

// kill, reset-failed, is-failed, show and help VERB (issue 18).
func TestKillResetShow(t *testing.T) {
	e := startSockd(t, testUnits)
	e.connect("web.sock")
	e.connect("crash.sock")
	u := e.waitState("web.service", "active", "running")
	e.waitState("crash.socket", "failed", "failed")

	r := e.want(0, []string{"show", "web.service"}, "Id=web.service\n", "ActiveState=active\n", "SubState=running\n", "TriggeredBy=web.socket\n")
	if !strings.Contains(r.stdout, "MainPID=") {
		t.Errorf("show lacks MainPID:\n%s", r.stdout)
	}
	e.want(0, []string{"show", "-p", "ActiveState,SubState", "crash.socket"})
	if r := e.sockctl("show", "-p", "ActiveState", "--value", "crash.socket"); r.stdout != "failed\n" {
		t.Errorf("show -p ActiveState --value crash.socket = %q; want \"failed\\n\"", r.stdout)
	}

	e.want(0, []string{"is-failed", "crash.socket"}, "failed")
	e.want(1, []string{"is-failed", "web.socket"}, "active")

	e.want(2, []string{"kill", "--signal", "NOSUCH", "web.service"})
	e.want(0, []string{"kill", "--signal", "KILL", "web.service"})
	got := e.waitFor("web.service", "killed", func(v control.Unit) bool { return v.LastExit != nil && v.MainPID != u.MainPID })
	if got.LastExit.Code != "killed" || got.LastExit.Status != 9 {
		t.Errorf("after kill --signal KILL, last exit = %+v; want killed by signal 9", got.LastExit)
	}
	e.want(1, []string{"kill", "quiet.service"}) // not running: nothing to kill

	e.want(0, []string{"reset-failed", "crash.socket"})
	e.waitState("crash.socket", "inactive", "dead")
	e.want(1, []string{"is-failed", "crash.socket"})
	e.want(0, []string{"start", "crash.socket"})
	e.waitState("crash.socket", "active", "listening")
	e.want(0, []string{"reset-failed"})

	if r := e.want(0, []string{"list-dependencies", "web.socket", "web.service"}); r.stdout != "web.socket\n└─web.service\n\nweb.service\n└─web.socket\n" {
		t.Errorf("list-dependencies web.socket web.service printed:\n%s", r.stdout)
	}
	e.want(0, []string{"help", "kill"}, "Usage: sockctl", "kill [--signal SIG] UNIT...", "SIGTERM")
	e.want(2, []string{"help", "bogus"})
}
