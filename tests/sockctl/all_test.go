package sockctl_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestListAll: `list` shows the active sockets; `list --all` also shows a
// stopped socket and a unit that failed to load, whose `status` says why.
func TestListAll(t *testing.T) {
	files := map[string]string{
		"broken.socket":  "[Socket]\nListenStream=$WORK/broken.sock\nBacklog=lots\n",
		"broken.service": "[Service]\nExecStart=/bin/true\n",
	}
	for name, content := range testUnits {
		files[name] = content
	}
	e := startSockd(t, files)
	e.want(0, []string{"stop", "quiet.socket"})

	r := e.want(0, []string{"list", "--no-legend"})
	for _, hidden := range []string{"broken.socket", "quiet.socket"} {
		if strings.Contains(r.stdout, hidden) {
			t.Errorf("list shows %s:\n%s", hidden, r.stdout)
		}
	}
	r = e.want(0, []string{"list", "--all"}, "web.socket", "5 sockets listed.")
	if !strings.Contains(r.stdout, "quiet.socket") || !strings.Contains(r.stdout, "broken.socket") {
		t.Errorf("list --all lacks the stopped or the broken unit:\n%s", r.stdout)
	}
	r = e.want(0, []string{"list", "--all", "--json"})
	rows := jsonOf[[]listRow](t, r)
	var states []string
	for _, row := range rows {
		if row.Unit == "broken.socket" || row.Unit == "quiet.socket" {
			states = append(states, row.Unit+"="+row.State)
		}
	}
	if got := strings.Join(states, ","); got != "quiet.socket=dead,broken.socket=bad-setting" {
		t.Errorf("list --all --json states = %s; want quiet.socket=dead,broken.socket=bad-setting", got)
	}

	r = e.want(3, []string{"status", "broken"})
	want := filepath.Join(e.work, "units", "broken.socket") + ":3: [Socket] Backlog:"
	if !strings.Contains(r.stdout, "bad-setting") || !strings.Contains(r.stdout, want) {
		t.Errorf("status broken:\n%s\nwant bad-setting and %q", r.stdout, want)
	}
	e.want(3, []string{"is-active", "broken"})
}
