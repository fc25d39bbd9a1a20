package sockets_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTemplateInstances: one template socket unit, echo@.socket, with %i
// in its address and in its service. Instance "a" comes from an
// enablement link echo@a.socket -> echo@.socket in the unit directory
// (read at reload), instance "b" from `sockctl start echo@b.socket`. Both
// listen on their own path and answer from their own service, named by
// the instance; a reload keeps b; stopping b leaves a alone.
func TestTemplateInstances(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"echo@.socket":  "[Socket]\nListenStream=$WORK/echo-%i.sock\n",
		"echo@.service": "[Service]\nExecStart=$BIN/probe -report $WORK/reports -answer hello-%i\n",
	})
	if err := os.MkdirAll(filepath.Join(e.Work, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.Work, "echo-test_instance.sock")); !os.IsNotExist(err) {
		t.Errorf("the template itself was bound: %v", err)
	}
	if err := os.Symlink("echo@.socket", filepath.Join(e.Work, "units/echo@a.socket")); err != nil {
		t.Fatal(err)
	}
	if out, code := e.sockctl("reload"); code != 0 {
		t.Fatalf("sockctl reload: exit %d: %s", code, out)
	}
	if out, code := e.sockctl("start", "echo@b.socket"); code != 0 {
		t.Fatalf("sockctl start echo@b.socket: exit %d: %s", code, out)
	}
	pids := map[string]string{}
	for _, inst := range []string{"a", "b"} {
		got, err := askUnix(filepath.Join(e.Work, "echo-"+inst+".sock"), 10*time.Second)
		f := strings.Fields(got)
		if err != nil || len(f) != 3 || f[0] != "hello-"+inst || f[2] != "echo@"+inst+".socket" {
			t.Fatalf("instance %s answered %q, %v; want \"hello-%s PID echo@%s.socket\"", inst, got, err, inst, inst)
		}
		pids[inst] = f[1]
		if u := e.unit("echo@" + inst + ".socket"); u.Service != "echo@"+inst+".service" || u.State == "failed" {
			t.Errorf("echo@%s.socket: service %s, state %s; want echo@%s.service", inst, u.Service, u.State, inst)
		}
	}
	if pids["a"] == pids["b"] {
		t.Errorf("both instances answered from pid %s; want a service each", pids["a"])
	}
	if out, code := e.sockctl("reload"); code != 0 {
		t.Fatalf("second reload: exit %d: %s", code, out)
	}
	if got, err := askUnix(filepath.Join(e.Work, "echo-b.sock"), 10*time.Second); err != nil || !strings.HasPrefix(got, "hello-b ") {
		t.Errorf("after a reload, instance b answered %q, %v", got, err)
	}
	if out, code := e.sockctl("stop", "echo@b.socket"); code != 0 {
		t.Fatalf("sockctl stop echo@b.socket: exit %d: %s", code, out)
	}
	if _, err := askUnix(filepath.Join(e.Work, "echo-b.sock"), time.Second); err == nil {
		t.Errorf("echo@b.socket answers after it was stopped")
	}
	if got, err := askUnix(filepath.Join(e.Work, "echo-a.sock"), 10*time.Second); err != nil || !strings.HasPrefix(got, "hello-a ") {
		t.Errorf("instance a answered %q, %v after b stopped", got, err)
	}
	if out, code := e.sockctl("start", "nosuch@x.socket"); code != 4 {
		t.Errorf("sockctl start nosuch@x.socket: exit %d (%s); want 4, no such unit", code, out)
	}
}
