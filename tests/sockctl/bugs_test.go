package sockctl_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A unit whose port is taken at start-up stays loaded, failed, with the
// bind error; start retries the bind (issue 18).
func TestBindFailureVisible(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	e := startSockd(t, map[string]string{
		"busy.socket":  fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port),
		"busy.service": "[Service]\nExecStart=/bin/sleep 1000\n",
		"web.socket":   "[Socket]\nListenStream=$WORK/web.sock\n",
		"web.service":  "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	if log := e.LogText(); !strings.Contains(log, "failed=1") {
		t.Errorf("the ready line does not count the failed unit:\n%s", log)
	}
	rows := jsonOf[[]listRow](t, e.want(0, []string{"list", "--all", "--json"}))
	found := false
	for _, r := range rows {
		if r.Unit == "busy.socket" {
			found = true
			if r.State != "failed" || r.Listen != fmt.Sprintf("127.0.0.1:%d", port) {
				t.Errorf("busy.socket row = %+v; want state failed on its address", r)
			}
		}
	}
	if !found {
		t.Errorf("list --all lacks busy.socket: %+v", rows)
	}
	e.want(3, []string{"status", "busy.socket"}, "failed", "address already in use")
	e.want(1, []string{"start", "busy.socket"})
	l.Close()
	e.want(0, []string{"start", "busy.socket"})
	e.want(0, []string{"is-active", "busy.socket"}, "active")
}

// start and restart exit 1 when the service fails to start, as
// systemctl does (issue 18).
func TestStartFailureExitCode(t *testing.T) {
	e := startSockd(t, map[string]string{
		"slow.socket":  "[Socket]\nListenStream=$WORK/slow.sock\n",
		"slow.service": "[Service]\nType=notify\nExecStart=/bin/sleep 1000\nTimeoutStartSec=300ms\n",
	})
	e.want(1, []string{"start", "slow.service"})
	e.want(1, []string{"restart", "slow.service"})
}

// Stopping a socket does not log that sockd stops (issue 18).
func TestStopSocketReason(t *testing.T) {
	e := startSockd(t, testUnits)
	e.connect("web.sock")
	e.waitState("web.service", "active", "running")
	e.want(0, []string{"stop", "web.socket"})
	e.waitState("web.socket", "inactive", "dead")
	if log := e.LogText(); strings.Contains(log, "sockd is stopping") {
		t.Errorf("stopping a socket logged that sockd stops:\n%s", log)
	}
}

// sockctl list prints "N sockets listed" with N the rows printed, as
// systemctl list-sockets counts listeners (issue 18).
func TestListCountsRows(t *testing.T) {
	e := startSockd(t, map[string]string{
		"two.socket":  "[Socket]\nListenStream=$WORK/a.sock\nListenStream=$WORK/b.sock\n",
		"two.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	e.want(0, []string{"list"}, "2 sockets listed.")
}

// Without a running sockd, the error says how to name its runtime
// directory (issue 18).
func TestNotRunningHint(t *testing.T) {
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), "list")
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--runtime-dir") || !strings.Contains(string(out), "SOCKD_RUNTIME_DIR") {
		t.Errorf("sockctl list without sockd: %v\n%s\nwant a hint naming --runtime-dir and SOCKD_RUNTIME_DIR", err, out)
	}
}

// sockdRun runs sockd with args and returns its exit code and output.
func sockdRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "sockd"), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// sockd's command line: --help, unknown flags, a missing unit directory
// (issue 18).
func TestSockdFlags(t *testing.T) {
	code, out, _ := sockdRun(t, "--help")
	if code != 0 || !strings.Contains(out, "--check") || strings.Contains(out, "\n  -check") {
		t.Errorf("sockd --help: exit %d, want 0 and GNU-style --flags on stdout:\n%s", code, out)
	}
	code, out, errs := sockdRun(t, "--bogus")
	if code != 2 || strings.Count(errs, "\n") != 2 || strings.Count(errs, "bogus") != 1 || !strings.Contains(errs, "--help") || out != "" {
		t.Errorf("sockd --bogus: exit %d, want 2, the error once and a pointer to --help:\n%s", code, errs)
	}
	code, _, errs = sockdRun(t, "--check", "--units", "/nonexistent")
	if code != 1 || !strings.Contains(errs, "/nonexistent") {
		t.Errorf("sockd --check --units /nonexistent: exit %d, want 1 and an error naming it:\n%s", code, errs)
	}
	r := (&env{t: t}).sockctlNoDaemon("--bogus")
	if r.code != 2 || strings.Count(r.stderr, "\n") != 2 || !strings.Contains(r.stderr, "--help") {
		t.Errorf("sockctl --bogus: exit %d, want 2, one line and a pointer to --help:\n%s", r.code, r.stderr)
	}
}

// A missing unit directory is worth a warning (issue 18).
func TestSockdWarnsMissingUnitDir(t *testing.T) {
	e := startSockd(t, map[string]string{}, "--units", filepath.Join(t.TempDir(), "missing"))
	if log := e.LogText(); !strings.Contains(log, "missing") || !strings.Contains(log, "level=WARN") {
		t.Errorf("no warning for a missing unit directory:\n%s", log)
	}
}

func (e *env) sockctlNoDaemon(args ...string) result {
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	return r
}

// A refused reload names the invalid units and says why nothing
// changed (issue 18).
func TestReloadRefusalNamesUnits(t *testing.T) {
	e := startSockd(t, testUnits)
	bad := "[Socket]\nListenStream=$WORK/bad.sock\nBogusDirective=1\n"
	if err := os.WriteFile(filepath.Join(e.work, "units", "bad.socket"), []byte(strings.ReplaceAll(bad, "$WORK", e.work)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.sockctl("reload")
	if r.code != 1 || !strings.Contains(r.stderr, "invalid: bad.socket") || !strings.Contains(r.stderr, "every unit") {
		t.Errorf("sockctl reload with bad.socket invalid: exit %d, want 1 and a refusal naming bad.socket:\n%s", r.code, r.stderr)
	}
}
