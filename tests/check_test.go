package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCheck runs sockd --check with extra environment variables and
// returns its exit status, stdout and stderr.
func runCheck(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sockdBin, append([]string{"--check"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("sockd --check: %v\n%s", err, stderr.String())
	return -1, "", ""
}

// TestCheckExamples: the example units are valid. hello.service runs
// hello-http through /bin/sh from the directory of the sockd that starts
// it (tests/sockctl TestExampleHelloServiceAnyGOPATH runs it), so --check
// checks /bin/sh only.
func TestCheckExamples(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		needTools(t, "/usr/bin/python3") // echo.toml runs /usr/bin/python3
	}
	code, stdout, stderr := runCheck(t, []string{"HOME=" + t.TempDir()}, "--units", filepath.Join(repoRoot, "examples/units"))
	if code != 0 {
		t.Errorf("sockd --check --units examples/units exited %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"echo.socket: 127.0.0.1:7007 (stream) -> echo.service",
		"hello.socket: 127.0.0.1:8080 (stream), [::1]:8080 (stream) -> hello.service",
	} {
		if !strings.Contains(stdout, want+"\n") {
			t.Errorf("--check does not list %q; stdout:\n%s", want, stdout)
		}
	}
}

// TestCheckBrokenUnit: one broken unit among good ones is reported with
// its file and line, the good ones are listed, and the exit status is
// non-zero.
func TestCheckBrokenUnit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.unit("good", []string{"ListenStream=127.0.0.1:7001"}, []string{e.probe()})
	e.writeFile("alsogood.toml", "[socket]\nlisten_stream = [\"/run/alsogood.sock\"]\n\n[service]\nexec_start = \""+probeBin+"\"\n")
	broken := e.writeFile("broken.socket", "[Unit]\nDescription=broken\n\n[Socket]\nListenStream=127.0.0.1:7002\nBacklog=lots\n")
	e.writeFile("broken.service", "[Service]\n"+e.probe()+"\n")
	code, stdout, stderr := runCheck(t, nil, "--units", e.unitDir)
	if code == 0 {
		t.Errorf("sockd --check exited 0 with a broken unit")
	}
	if want := broken + ":6:"; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not point at %q:\n%s", want, stderr)
	}
	if !strings.Contains(stderr, "Backlog") {
		t.Errorf("stderr does not name the directive Backlog:\n%s", stderr)
	}
	for _, want := range []string{
		"good.socket: 127.0.0.1:7001 (stream) -> good.service\n",
		"alsogood.socket: /run/alsogood.sock (stream) -> alsogood.service\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not list %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "broken.socket") {
		t.Errorf("stdout lists the broken unit:\n%s", stdout)
	}
	if !strings.Contains(stderr, "2 valid unit(s), 1 invalid") {
		t.Errorf("stderr lacks the count of valid and invalid units:\n%s", stderr)
	}
}
