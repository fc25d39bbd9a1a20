package upgrade_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

// oldCommit is the build the upgrade matrix runs against: the last
// commit before internal/upgrade, whose state formats are 1 (JSON) and 2
// (gob parts), and whose check is the takeover over handoff.sock. It
// does not read format 3, so main writes format 1 for it; it writes
// format 1 for main, which does not offer format 2.
const oldCommit = "10c3e72"

// buildOld builds sockd at oldCommit from the repository's history into
// a new directory, as version "old".
func buildOld(t *testing.T) string {
	t.Helper()
	git := testenv.RequireProgram(t, "git")
	top, err := exec.Command(git, "rev-parse", "--show-toplevel").Output()
	testenv.Require(t, err == nil, "not in a git checkout: the upgrade matrix builds an older commit from its history")
	repo := strings.TrimSpace(string(top))
	err = exec.Command(git, "-C", repo, "cat-file", "-e", oldCommit+"^{commit}").Run()
	testenv.Require(t, err == nil, "commit "+oldCommit+" is not in this clone's history (a shallow clone?)")
	src := t.TempDir()
	archive := exec.Command(git, "-C", repo, "archive", oldCommit)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v", oldCommit, err)
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("untar %s: %v", oldCommit, err)
	}
	out := t.TempDir()
	build := exec.Command("go", "build", "-ldflags", "-X main.version=old", "-o", out+"/", "./cmd/sockd")
	build.Dir = src
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building sockd at %s: %v\n%s", oldCommit, err, b)
	}
	return filepath.Join(out, "sockd")
}

// TestUpgradeMatrix upgrades between main and a build of an older commit,
// both ways, under load: old → main → old → main, with the units of
// finding 2 of issue 16, a Type=notify service and an Accept=yes socket.
// Each upgrade keeps sockd's pid, both units and the running service,
// and no request fails.
func TestUpgradeMatrix(t *testing.T) {
	old := buildOld(t)
	addr, hiAddr := freePort(t), freePort(t)
	files := helloUnits(addr)
	files["hi.socket"] = "[Socket]\nListenStream=" + hiAddr + "\nAccept=yes\n"
	files["hi@.service"] = "[Service]\nExecStart=/bin/echo hi\nStandardInput=socket\n"
	s := e2e.Start(t, e2e.Options{Binary: old, Args: []string{"--log-level", "debug"}}, files)
	stop := load(t, addr)
	waitFor(t, s, "the service started by the load", func() bool { return mainPID(t, s.RuntimeDir, "hello.service") != 0 })
	svc := mainPID(t, s.RuntimeDir, "hello.service")
	if svc == 0 {
		t.Fatalf("the service is not running; log:\n%s", s.LogText())
	}
	main := filepath.Join(binDir, "sockd")
	for i, step := range []struct{ binary, version string }{
		{main, "dev"}, {old, "old"}, {main, "dev"},
	} {
		out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", step.binary)
		if err != nil {
			t.Fatalf("upgrade %d to %s: %v\n%s\nlog:\n%s", i+1, step.version, err, out, s.LogText())
		}
		t.Logf("upgrade %d: %s", i+1, strings.TrimSpace(out))
		info := daemonInfo(t, s.RuntimeDir)
		if info.PID != s.Pid() || info.Generation != i+2 || info.Version != step.version {
			t.Errorf("after upgrade %d: %+v; want pid %d, generation %d, version %s", i+1, info, s.Pid(), i+2, step.version)
		}
		if got := mainPID(t, s.RuntimeDir, "hello.service"); got != svc {
			t.Errorf("after upgrade %d the service's main pid is %d, want %d (the same process)", i+1, got, svc)
		}
		if _, err := get(addr); err != nil {
			t.Errorf("after upgrade %d: %v", i+1, err)
		}
		if got, err := get(hiAddr); err != nil || got != "hi\n" {
			t.Errorf("after upgrade %d, Accept=yes: %q, %v; want \"hi\"", i+1, got, err)
		}
		if out, err := sockctl(s.RuntimeDir, "list", "--all"); err != nil || !strings.Contains(out, "hello.socket") || !strings.Contains(out, "hi.socket") {
			t.Errorf("after upgrade %d, list --all: %v\n%s", i+1, err, out)
		}
	}
	checkLoad(t, stop(), 100)
	log := s.LogText()
	for _, bad := range []string{"starting afresh", "unit failed", "cannot decode"} {
		if strings.Contains(log, bad) {
			t.Errorf("the log says %q:\n%s", bad, log)
		}
	}
	os.Stdout.Sync()
}
