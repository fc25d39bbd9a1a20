package upgrade_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/tests/internal/e2e"
)

// TestRollbackWhenTheNewImageCannotStart is finding 3 of issue 16: a new
// image that cannot bind its control socket (a build that fails there on
// purpose, as a full runtime directory made it fail) re-executes the
// previous binary with the same state instead of exiting. Under load,
// no request fails; sockd keeps its pid, the service keeps running
// unrestarted, sockctl says the upgrade rolled back, and the next
// upgrade works.
func TestRollbackWhenTheNewImageCannotStart(t *testing.T) {
	faulty, err := e2e.Build([]string{"-ldflags", "-X main.version=faulty -X main.testFault=control"}, "../../cmd/sockd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(faulty) })
	s, addr, stop := startHelloUnderLoad(t)
	svc := mainPID(t, s.RuntimeDir, "hello.service")
	if svc == 0 {
		t.Fatalf("the service is not running under load; log:\n%s", s.LogText())
	}
	out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", filepath.Join(faulty, "sockd"))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(out, "upgrade rolled back") || !strings.Contains(out, "injected fault") {
		t.Errorf("sockctl upgrade to a binary that cannot start: %v\n%s\nwant exit 1 and \"upgrade rolled back\"; log:\n%s", err, out, s.LogText())
	}
	t.Logf("%s", strings.TrimSpace(out))
	info := daemonInfo(t, s.RuntimeDir)
	if info.PID != s.Pid() || info.Version != "dev" || info.Binary != filepath.Join(binDir, "sockd") || info.RolledBack == "" {
		t.Errorf("after the rollback: %+v; want pid %d, version dev, binary %s, rolled_back set", info, s.Pid(), filepath.Join(binDir, "sockd"))
	}
	if got := mainPID(t, s.RuntimeDir, "hello.service"); got != svc {
		t.Errorf("after the rollback the service's main pid is %d, want %d (the same process)", got, svc)
	}
	if _, err := get(addr); err != nil {
		t.Errorf("after the rollback: %v", err)
	}
	// The rolled-back sockd upgrades again.
	if out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", filepath.Join(bin2Dir, "sockd")); err != nil {
		t.Fatalf("upgrade after the rollback: %v\n%s\nlog:\n%s", err, out, s.LogText())
	}
	if info := daemonInfo(t, s.RuntimeDir); info.PID != s.Pid() || info.Version != "v2" || info.RolledBack != "" {
		t.Errorf("after the next upgrade: %+v; want pid %d, version v2, not rolled back", info, s.Pid())
	}
	checkLoad(t, stop(), 100)
	if !strings.Contains(s.LogText(), "rolling back to the previous binary") {
		t.Errorf("the rollback is not logged:\n%s", s.LogText())
	}
}

// TestAdoptWhenTheStateDoesNotDecode: a new image that cannot decode the
// state it inherited does not start afresh beside the open listeners
// (finding 2 of issue 16: every unit failed with EADDRINUSE): it adopts
// the inherited sockets by matching them to the units it loads, and
// every unit serves on, under load, with no failed request.
func TestAdoptWhenTheStateDoesNotDecode(t *testing.T) {
	faulty, err := e2e.Build([]string{"-ldflags", "-X main.version=nodecode -X main.testFault=decode"}, "../../cmd/sockd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(faulty) })
	s, addr, stop := startHelloUnderLoad(t)
	out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", filepath.Join(faulty, "sockd"))
	if err != nil {
		t.Fatalf("upgrade: %v\n%s\nlog:\n%s", err, out, s.LogText())
	}
	t.Logf("%s", strings.TrimSpace(out))
	if _, err := get(addr); err != nil {
		t.Errorf("after the upgrade: %v", err)
	}
	checkLoad(t, stop(), 100)
	log := s.LogText()
	if !strings.Contains(log, "adopting its sockets by matching them") {
		t.Errorf("the adoption is not logged:\n%s", log)
	}
	for _, bad := range []string{"unit failed", "address already in use"} {
		if strings.Contains(log, bad) {
			t.Errorf("the log says %q:\n%s", bad, log)
		}
	}
	if out, err := sockctl(s.RuntimeDir, "list", "--all"); err != nil || !strings.Contains(out, "hello.socket") {
		t.Errorf("list --all: %v\n%s", err, out)
	}
}

// TestRefusedWhenTheCheckCannotDecode is finding 2 of issue 16: a new
// binary that cannot decode the state the upgrade would hand over (a
// build that fails there on purpose, as a build of another encoding
// did) is refused by its check, before anything changes: same
// generation, same service, no failed request.
func TestRefusedWhenTheCheckCannotDecode(t *testing.T) {
	faulty, err := e2e.Build([]string{"-ldflags", "-X main.version=nostate -X main.testFault=state"}, "../../cmd/sockd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(faulty) })
	s, _, stop := startHelloUnderLoad(t)
	svc := mainPID(t, s.RuntimeDir, "hello.service")
	out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", filepath.Join(faulty, "sockd"))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(out, "upgrade refused") || !strings.Contains(out, "cannot decode the state the upgrade would hand over") {
		t.Errorf("sockctl upgrade: %v\n%s\nwant a refusal naming the state", err, out)
	}
	t.Logf("%s", strings.TrimSpace(out))
	if info := daemonInfo(t, s.RuntimeDir); info.PID != s.Pid() || info.Generation != 1 || info.Version != "dev" {
		t.Errorf("after the refused upgrade: %+v; want pid %d, generation 1, version dev", info, s.Pid())
	}
	if got := mainPID(t, s.RuntimeDir, "hello.service"); got != svc {
		t.Errorf("the service's main pid is %d, want %d", got, svc)
	}
	checkLoad(t, stop(), 100)
}
