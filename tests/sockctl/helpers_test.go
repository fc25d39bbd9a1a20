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
	"github.com/sockd/sockd/tests/internal/e2e"
)

// env is one running sockd.
type env struct {
	*e2e.Sockd
	t    *testing.T
	work string // unit files and sockets live here
	rt   string // the runtime directory
}

// startSockd writes the unit files (name → content, $WORK expanded) and
// starts sockd on them; it is stopped when the test ends.
func startSockd(t *testing.T, files map[string]string, args ...string) *env {
	t.Helper()
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: args}, files)
	return &env{Sockd: s, t: t, work: s.Work, rt: s.RuntimeDir}
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
	e.t.Fatalf("%s: never %s (last: %+v, %v)\nsockd log:\n%s", unit, what, u, err, e.LogText())
	return u
}

func (e *env) waitState(unit, active, sub string) control.Unit {
	e.t.Helper()
	return e.waitFor(unit, active+" ("+sub+")", func(u control.Unit) bool { return u.ActiveState == active && u.SubState == sub })
}
