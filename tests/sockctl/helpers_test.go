package sockctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// env is one running sockd.
type env struct {
	t     *testing.T
	work  string // unit files and sockets live here
	rt    string // the runtime directory
	log   string
	cmd   *exec.Cmd
	exit  chan error
	alive bool
}

// startSockd writes the unit files (name → content, $WORK expanded) and
// starts sockd on them; it is stopped when the test ends.
func startSockd(t *testing.T, files map[string]string, args ...string) *env {
	t.Helper()
	work := t.TempDir()
	e := &env{t: t, work: work, rt: filepath.Join(work, "rt"), log: filepath.Join(work, "sockd.log"), exit: make(chan error, 1)}
	os.Mkdir(filepath.Join(work, "units"), 0o755)
	for name, content := range files {
		content = strings.ReplaceAll(content, "$WORK", work)
		if err := os.WriteFile(filepath.Join(work, "units", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.cmd = exec.Command(filepath.Join(binDir, "sockd"), append([]string{"--units", filepath.Join(work, "units"), "--runtime-dir", e.rt}, args...)...)
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.alive = true
	go func() { e.exit <- e.cmd.Wait(); logf.Close() }()
	t.Cleanup(e.stop)
	sock := filepath.Join(e.rt, control.SocketName)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		// The control socket opens before the units are bound: wait
		// for both.
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			if strings.Contains(e.logText(), "sockd ready") {
				return e
			}
		}
		select {
		case err := <-e.exit:
			e.alive = false
			t.Fatalf("sockd exited (%v):\n%s", err, e.logText())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("sockd does not serve the control API at %s (is Daemon.ServeControl wired into cmd/sockd?); its log:\n%s", sock, e.logText())
	return nil
}

func (e *env) logText() string {
	data, _ := os.ReadFile(e.log)
	return string(data)
}

// stop stops sockd and waits for it.
func (e *env) stop() {
	if !e.alive {
		return
	}
	e.alive = false
	e.cmd.Process.Signal(os.Interrupt)
	select {
	case <-e.exit:
	case <-time.After(15 * time.Second):
		e.cmd.Process.Kill()
		<-e.exit
		e.t.Errorf("sockd did not stop on SIGINT; log:\n%s", e.logText())
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// sockctl runs sockctl against e's sockd.
func (e *env) sockctl(args ...string) result {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+e.rt)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// want runs sockctl and checks its exit code, and that its stdout
// contains every string in contains.
func (e *env) want(code int, args []string, contains ...string) result {
	e.t.Helper()
	r := e.sockctl(args...)
	if r.code != code {
		e.t.Errorf("sockctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, s := range contains {
		if !strings.Contains(r.stdout, s) {
			e.t.Errorf("sockctl %s: stdout lacks %q:\n%s", strings.Join(args, " "), s, r.stdout)
		}
	}
	return r
}

// jsonOf decodes sockctl's --json output.
func jsonOf[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("--json output is not the JSON expected (%v):\n%s", err, r.stdout)
	}
	return v
}

func (e *env) connect(name string) {
	e.t.Helper()
	c, err := net.Dial("unix", filepath.Join(e.work, name))
	if err != nil {
		e.t.Fatal(err)
	}
	c.Close()
}

// waitFor polls unit until ok accepts it.
func (e *env) waitFor(unit string, what string, ok func(control.Unit) bool) control.Unit {
	e.t.Helper()
	c := control.NewClient(filepath.Join(e.rt, control.SocketName))
	var u control.Unit
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if u, err = c.Unit(context.Background(), unit); err == nil && ok(u) {
			return u
		}
	}
	e.t.Fatalf("%s: never %s (last: %+v, %v)\nsockd log:\n%s", unit, what, u, err, e.logText())
	return u
}

func (e *env) waitState(unit, active, sub string) control.Unit {
	e.t.Helper()
	return e.waitFor(unit, active+" ("+sub+")", func(u control.Unit) bool { return u.ActiveState == active && u.SubState == sub })
}
