// Package sockctl_test runs the built sockd and sockctl binaries against
// each other: a real sockd with units in every state (listening, running,
// failed, stopped), and every verb of sockctl, its output (text and
// --json) and exit code.
package sockctl_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir string

func TestMain(m *testing.M) {
	e2e.Main(m, &binDir, "../../cmd/sockd", "../../cmd/sockctl", "../../examples/hello-http")
}

// The units of the tests: web (its service runs once a connection
// came), crash (its service exits at once: TriggerLimitBurst=1 fails the
// socket), idle (never activated; a TOML unit) and quiet (its service is
// started and stopped by sockctl).
var testUnits = map[string]string{
	"web.socket": `[Unit]
Description=Web socket
[Socket]
ListenStream=$WORK/web.sock
`,
	"web.service": `[Unit]
Description=Web service
[Service]
ExecStart=/bin/sleep 1000
`,
	"crash.socket": `[Socket]
ListenStream=$WORK/crash.sock
TriggerLimitBurst=1
TriggerLimitIntervalSec=60s
`,
	"crash.service": `[Service]
ExecStart=/bin/false
`,
	"idle.toml": `[socket]
description = "Idle"
listen_datagram = ["$WORK/idle.sock"]
[service]
exec_start = "/bin/true"
`,
	"quiet.socket": `[Socket]
ListenStream=$WORK/quiet.sock
`,
	"quiet.service": `[Service]
ExecStart=/bin/sleep 1000
`,
}

type listRow struct {
	Listen, Type, Unit, Activates, State string
	Accepted, Refused                    int
}

// TestVerbs runs every sockctl verb against one sockd with the test units
// in known states: web running, crash failed, quiet started and stopped.
func TestVerbs(t *testing.T) {
	e := startSockd(t, testUnits)
	e.connect("web.sock")
	e.connect("crash.sock")
	e.waitState("web.service", "active", "running")
	e.waitState("crash.socket", "failed", "failed")
	e.want(0, []string{"start", "quiet.service"})
	e.waitState("quiet.service", "active", "running")
	e.want(0, []string{"stop", "quiet.service"})
	e.waitState("quiet.service", "inactive", "dead")

	t.Run("list", func(t *testing.T) { verbList(t, e) })
	t.Run("status", func(t *testing.T) { verbStatus(t, e) })
	t.Run("is-active", func(t *testing.T) { verbIsActive(t, e) })
	t.Run("cat", func(t *testing.T) { verbCat(t, e) })
	t.Run("actions", func(t *testing.T) { verbActions(t, e) })
	t.Run("completion", func(t *testing.T) { verbCompletion(t, e) })
	t.Run("not running", func(t *testing.T) { verbNotRunning(t, e) })
}

// verbList is TestVerbs' "list" part.
func verbList(t *testing.T, e *env) {
	w := e.work
	r := e.want(0, []string{"list"},
		"LISTEN", "TYPE", "UNIT", "ACTIVATES", "STATE", "ACCEPTED", "REFUSED",
		"4 sockets listed.", "Pass --all")
	lines := strings.Split(r.stdout, "\n")
	for _, want := range [][]string{
		{w + "/crash.sock", "Stream", "crash.socket", "crash.service", "failed", "1", "0"},
		{w + "/idle.sock", "Datagram", "idle.socket", "idle.service", "listening", "0", "0"},
		{w + "/quiet.sock", "Stream", "quiet.socket", "quiet.service", "listening", "0", "0"},
		{w + "/web.sock", "Stream", "web.socket", "web.service", "running", "1", "0"},
	} {
		found := false
		for _, l := range lines {
			found = found || strings.Join(strings.Fields(l), " ") == strings.Join(want, " ")
		}
		if !found {
			t.Errorf("list lacks the row %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "●") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colour or symbols when stdout is not a terminal:\n%q", r.stdout)
	}
	r = e.want(0, []string{"list", "--no-legend", "--all"})
	if n := strings.Count(r.stdout, "\n"); n != 4 || strings.Contains(r.stdout, "LISTEN") || strings.Contains(r.stdout, "listed") {
		t.Errorf("list --no-legend:\n%s", r.stdout)
	}
	rows := jsonOf[[]listRow](t, e.want(0, []string{"--json", "list"}))
	if len(rows) != 4 || rows[0].Unit != "crash.socket" || rows[0].State != "failed" || rows[0].Accepted != 1 ||
		rows[3].Unit != "web.socket" || rows[3].State != "running" || rows[3].Activates != "web.service" {
		t.Errorf("list --json = %+v", rows)
	}
}

// verbStatus is TestVerbs' "status" part.
func verbStatus(t *testing.T, e *env) {
	w := e.work
	e.want(0, []string{"status", "web"},
		"web.socket - Web socket\n",
		"     Loaded: loaded ("+w+"/units/web.socket)\n",
		"     Active: active (running) since ",
		"   Triggers: web.service\n",
		"     Listen: "+w+"/web.sock (Stream)\n",
		"   Accepted: 1; Refused: 0\n",
		"   Main PID: ",
		"INFO starting service service=web.service reason=activation")
	e.want(0, []string{"status", "web.service"},
		"web.service - Web service\n",
		"     Loaded: loaded ("+w+"/units/web.service)\n",
		"TriggeredBy: web.socket\n",
		"     Active: active (running) since ")
	e.want(3, []string{"status", "crash.socket"},
		"     Active: failed (Result: trigger-limit-hit) since ",
		"  Last exit: code=exited, status=1/FAILURE\n",
		"ERROR trigger limit hit")
	e.want(3, []string{"status", "crash.service"}, "     Active: failed (Result: trigger-limit-hit)")
	e.want(3, []string{"status", "quiet.service"}, "     Active: inactive (dead) since ", "  Last exit: code=killed, signal=TERM")
	e.want(3, []string{"status", "idle.service"}, "idle.service - Idle", "Loaded: loaded ("+w+"/units/idle.toml)")

	r := e.want(4, []string{"status", "--json", "web", "nope.service", "crash.service"})
	us := jsonOf[[]control.Unit](t, r)
	if len(us) != 2 || us[0].Name != "web.socket" || us[0].MainPID == 0 || len(us[0].Log) == 0 ||
		us[1].Name != "crash.service" || us[1].LastExit == nil || us[1].LastExit.Text != "code=exited, status=1/FAILURE" {
		t.Errorf("status --json = %+v", us)
	}
	if !strings.Contains(r.stderr, "nope.service: no such unit") {
		t.Errorf("status of a missing unit: stderr %q", r.stderr)
	}
}

// verbIsActive is TestVerbs' "is-active" part.
func verbIsActive(t *testing.T, e *env) {
	for _, tc := range []struct {
		unit, out string
		code      int
	}{
		{"web", "active", 0}, {"web.socket", "active", 0}, {"web.service", "active", 0},
		{"idle", "active", 0}, {"idle.service", "inactive", 3},
		{"crash", "failed", 3}, {"crash.service", "failed", 3},
		{"quiet.service", "inactive", 3}, {"quiet.socket", "active", 0},
		{"nope", "unknown", 4},
	} {
		r := e.want(tc.code, []string{"is-active", tc.unit})
		if r.stdout != tc.out+"\n" {
			t.Errorf("is-active %s printed %q, want %q", tc.unit, r.stdout, tc.out)
		}
	}
	if r := e.want(3, []string{"is-active", "--quiet", "crash"}); r.stdout != "" {
		t.Errorf("is-active --quiet printed %q", r.stdout)
	}
	rows := jsonOf[[]struct {
		Unit, State string
		Active      bool
	}](t, e.want(3, []string{"is-active", "--json", "web", "crash"}))
	if len(rows) != 2 || rows[0].Unit != "web.socket" || !rows[0].Active || rows[1].State != "failed" || rows[1].Active {
		t.Errorf("is-active --json = %+v", rows)
	}
}

// verbCat is TestVerbs' "cat" part.
func verbCat(t *testing.T, e *env) {
	w := e.work
	r := e.want(0, []string{"cat", "web", "web.service"})
	want := "# " + w + "/units/web.socket\n" + strings.ReplaceAll(testUnits["web.socket"], "$WORK", w) +
		"\n# " + w + "/units/web.service\n" + testUnits["web.service"]
	if r.stdout != want {
		t.Errorf("cat:\n%s\nwant:\n%s", r.stdout, want)
	}
	files := jsonOf[[]struct {
		Unit  string
		Files []control.File
	}](t, e.want(0, []string{"cat", "--json", "idle.service"}))
	if len(files) != 1 || len(files[0].Files) != 1 || files[0].Files[0].Path != w+"/units/idle.toml" {
		t.Errorf("cat --json = %+v", files)
	}
	e.want(4, []string{"cat", "nope"})
}

// verbActions is TestVerbs' "actions" part.
func verbActions(t *testing.T, e *env) {
	w := e.work
	// restart keeps the listeners: the service gets a new PID, the
	// socket still accepts connections.
	before := e.waitState("web.service", "active", "running")
	e.want(0, []string{"restart", "web.service"})
	after := e.waitState("web.service", "active", "running")
	if after.MainPID == before.MainPID || after.MainPID == 0 {
		t.Errorf("restart: PID %d → %d", before.MainPID, after.MainPID)
	}
	e.connect("web.sock")

	// stop of a service leaves its socket listening.
	e.want(0, []string{"start", "quiet.service"})
	e.waitState("quiet.service", "active", "running")
	e.want(0, []string{"stop", "quiet.service"})
	e.waitState("quiet.service", "inactive", "dead")
	e.waitState("quiet.socket", "active", "listening")

	// stop of a socket stops its service and closes its listeners;
	// start binds them again.
	e.want(0, []string{"stop", "web.socket"})
	e.waitState("web.socket", "inactive", "dead")
	e.want(3, []string{"is-active", "--quiet", "web.service"})
	if c, err := net.Dial("unix", filepath.Join(w, "web.sock")); err == nil {
		c.Close()
		t.Errorf("web.sock still accepts connections after stop web.socket")
	}
	e.want(0, []string{"start", "web.socket"})
	e.waitState("web.socket", "active", "listening")
	e.connect("web.sock")
	e.waitState("web.socket", "active", "running")

	// start of a failed socket resets it and binds its listener again
	// (a failed unit closes it: its queued connection is gone); the
	// next connection activates the service once more.
	e.want(0, []string{"start", "crash.socket"})
	e.connect("crash.sock")
	e.waitFor("crash.socket", "activated again", func(u control.Unit) bool { return u.Activations == 2 })

	e.want(4, []string{"start", "nope.service"})
	e.want(2, []string{"start", "bad/name"})
	e.want(4, []string{"restart", "web@1.service"})

	// reload: supported once the daemon has Daemon.Reload.
	if r := e.sockctl("reload"); r.code != 0 {
		t.Errorf("reload: exit %d, stderr %q", r.code, r.stderr)
	}
}

// verbCompletion is TestVerbs' "completion" part.
func verbCompletion(t *testing.T, e *env) {
	r := e.want(0, []string{"__complete-units"})
	for _, n := range []string{"web.socket\n", "web.service\n", "crash.socket\n", "idle.service\n"} {
		if !strings.Contains(r.stdout, n) {
			t.Errorf("__complete-units lacks %q:\n%s", n, r.stdout)
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := e.want(0, []string{"completion", sh}, "__complete-units", "sockctl")
		if strings.Contains(r.stdout, "%!") {
			t.Errorf("completion %s: formatting error:\n%s", sh, r.stdout)
		}
		if path, err := exec.LookPath(sh); err == nil {
			f := filepath.Join(t.TempDir(), "c."+sh)
			os.WriteFile(f, []byte(r.stdout), 0o644)
			check := exec.Command(path, "-n", f)
			if sh == "fish" {
				check = exec.Command(path, "--no-execute", f)
			}
			if out, err := check.CombinedOutput(); err != nil {
				t.Errorf("%s rejects the completion script: %v\n%s", sh, err, out)
			}
		}
	}
	e.want(2, []string{"completion", "tcsh"})
}

// verbNotRunning is TestVerbs' "not running" part.
func verbNotRunning(t *testing.T, e *env) {
	e.Stop()
	sock := filepath.Join(e.rt, control.SocketName)
	if _, err := os.Lstat(sock); err == nil {
		t.Errorf("control socket left behind after sockd stopped")
	}
	for _, args := range [][]string{{"list"}, {"status", "web"}, {"stop", "web.service"}, {"is-active", "web"}} {
		r := e.want(1, args)
		if want := "sockctl: sockd is not running (no control socket at " + sock + ")\nIf sockd runs with another runtime directory, name it: sockctl --runtime-dir DIR …, or set SOCKD_RUNTIME_DIR=DIR.\n"; r.stderr != want {
			t.Errorf("sockctl %s without sockd: stderr %q, want %q", args, r.stderr, want)
		}
	}
}

func TestUsage(t *testing.T) {
	e := &env{t: t, rt: t.TempDir()}
	e.want(2, nil)
	e.want(2, []string{"frobnicate"})
	e.want(2, []string{"status"})
	e.want(2, []string{"list", "--bogus"})
	e.want(2, []string{"list", "extra"})
	e.want(0, []string{"--help"}, "Usage: sockctl")
}

func TestControlSocketPermissions(t *testing.T) {
	e := startSockd(t, map[string]string{})
	fi, err := os.Lstat(filepath.Join(e.rt, control.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want 0600", fi.Mode().Perm())
	}
	testenv.RequireRoot(t, "--control-group with another group")
	e2 := startSockd(t, map[string]string{}, "--control-group", "nogroup")
	fi, err = os.Lstat(filepath.Join(e2.rt, control.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("control socket mode with --control-group %v, want 0660", fi.Mode().Perm())
	}
}
