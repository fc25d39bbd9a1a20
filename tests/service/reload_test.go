package service_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadRunsExecReload: sockctl reload UNIT runs ExecReload= with
// $MAINPID; a service that is not running, or has no ExecReload=, is
// refused with exit 1; a failing ExecReload= fails the reload but the
// service keeps running.
func TestReloadRunsExecReload(t *testing.T) {
	files := probeUnits("rl", "", []string{`ExecReload=/bin/sh -c 'echo reloaded $MAINPID >> $WORK/reloaded'`})
	for k, v := range probeUnits("bad", "", []string{"ExecReload=/bin/false"}) {
		files[k] = v
	}
	for k, v := range probeUnits("none", "", nil) {
		files[k] = v
	}
	s := start(t, files)
	if out, code := sockctl(t, s, "reload", "rl.service"); code != 1 || !strings.Contains(out, "not active") {
		t.Errorf("reload of an inactive service: exit %d, %q; want 1 and \"not active\"", code, out)
	}
	r := askReport(t, s, "rl")
	if out, code := sockctl(t, s, "reload", "rl.service"); code != 0 {
		t.Fatalf("sockctl reload rl.service: exit %d: %s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(s.Work, "reloaded"))
	if want := fmt.Sprintf("reloaded %d\n", r.Pid); err != nil || string(b) != want {
		t.Errorf("ExecReload= wrote %q, %v; want %q", b, err, want)
	}
	askReport(t, s, "bad")
	if out, code := sockctl(t, s, "reload", "bad.service"); code != 1 || !strings.Contains(out, "ExecReload false: code=exited, status=1/FAILURE") {
		t.Errorf("failing reload: exit %d, %q", code, out)
	}
	if u := unitStatus(t, s, "bad.service"); u.State != "running" {
		t.Errorf("after a failed reload the service is %s; want running", u.State)
	}
	askReport(t, s, "none")
	if out, code := sockctl(t, s, "reload", "none.service"); code != 1 || !strings.Contains(out, "no ExecReload=") {
		t.Errorf("reload without ExecReload=: exit %d, %q", code, out)
	}
	if out, code := sockctl(t, s, "reload", "none.socket"); code == 0 || !strings.Contains(out, "cannot be reloaded") {
		t.Errorf("reload of a socket: exit %d, %q", code, out)
	}
}
