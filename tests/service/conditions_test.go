package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/control"
)

// TestConditionSkipsStart: a failed Condition*= skips the start (the
// service does not run, the unit is not failed, status names the
// condition); once it holds, the service starts.
func TestConditionSkipsStart(t *testing.T) {
	s := start(t, probeUnits("cond", "", nil, "ConditionPathExists=$WORK/flag", "ConditionHost=|no-such-host", "ConditionHost=|!no-such-host"))
	sockctl(t, s, "start", "cond.service")
	u := unitStatus(t, s, "cond.service")
	if u.State != "listening" || u.MainPID != 0 || !strings.Contains(u.Condition, "ConditionPathExists="+filepath.Join(s.Work, "flag")+" was not met") {
		t.Fatalf("after a failed condition: state %s, pid %d, condition %q", u.State, u.MainPID, u.Condition)
	}
	out, _ := sockctl(t, s, "status", "cond.service")
	if !strings.Contains(out, "Condition: ConditionPathExists=") {
		t.Errorf("status does not show the condition:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(s.Work, "flag"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	askReport(t, s, "cond")
	if u := unitStatus(t, s, "cond.service"); u.Condition != "" || u.State != "running" {
		t.Errorf("once the condition holds: state %s, condition %q", u.State, u.Condition)
	}
}

// TestAssertFailsStart: a failed Assert*= fails the start.
func TestAssertFailsStart(t *testing.T) {
	s := start(t, probeUnits("asrt", "", nil, "AssertPathExists=$WORK/flag"))
	sockctl(t, s, "start", "asrt.service")
	u := waitStatus(t, s, "asrt.service", func(u control.Unit) bool { return u.Result == "assert" })
	if u.MainPID != 0 || !strings.Contains(u.Condition, "AssertPathExists=") {
		t.Errorf("after a failed assert: pid %d, condition %q", u.MainPID, u.Condition)
	}
	waitLog(t, s, "assertion failed: AssertPathExists=")
}

// TestExecConditionAndStopPost: ExecCondition= exiting 1 skips the start
// like a condition; ExecStopPost= runs after the service stopped, with
// $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS.
func TestExecConditionAndStopPost(t *testing.T) {
	s := start(t, probeUnits("ec", "", []string{
		"ExecCondition=/bin/test -e $WORK/flag",
		`ExecStopPost=/bin/sh -c 'echo $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS >> $WORK/stoppost'`,
	}))
	sockctl(t, s, "start", "ec.service")
	if u := unitStatus(t, s, "ec.service"); u.MainPID != 0 || !strings.Contains(u.Condition, "ExecCondition=test") {
		t.Fatalf("ExecCondition= exiting 1: pid %d, condition %q", u.MainPID, u.Condition)
	}
	os.WriteFile(filepath.Join(s.Work, "flag"), nil, 0o644)
	askReport(t, s, "ec")
	if out, code := sockctl(t, s, "stop", "ec.service"); code != 0 {
		t.Fatalf("stop: %d %s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(s.Work, "stoppost"))
	if string(b) != "success exited 0\n" {
		t.Errorf("ExecStopPost= wrote %q, %v; want \"success exited 0\"", b, err)
	}
}
