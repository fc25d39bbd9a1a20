package upgrade_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
	"golang.org/x/sys/unix"
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
	old := mainPID(t, s.RuntimeDir, "hello.service")
	pidfd, err := unix.PidfdOpen(old, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	out, err := sockctl(s.RuntimeDir, "upgrade", "--binary", filepath.Join(faulty, "sockd"))
	if err != nil {
		t.Fatalf("upgrade: %v\n%s\nlog:\n%s", err, out, s.LogText())
	}
	// The service the lost state named is stopped, not left running
	// with no unit to supervise it.
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 20000); n != 1 || err != nil {
		t.Errorf("the previous service (pid %d) still runs 20 s after the upgrade lost its state (%v)", old, err)
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

// TestFullRuntimeDirectory reproduces finding 3 of issue 16 as it was
// run: the runtime directory is a tmpfs with no inode left, so the new
// image cannot bind its control socket. Before the fix sockd exited and
// its Accept=yes port refused connections. Now the new image rolls back
// to the previous binary, which cannot bind it either and serves its
// units without it: no request fails, the Accept=yes port still answers.
func TestFullRuntimeDirectory(t *testing.T) {
	testenv.RequireRoot(t, "mounts a tmpfs")
	rt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1M,nr_inodes=64,mode=0700", "tmpfs", rt).CombinedOutput(); err != nil {
		testenv.Require(t, false, fmt.Sprintf("mount tmpfs: %v: %s", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", rt).Run() })
	addr, hiAddr := freePort(t), freePort(t)
	files := helloUnits(addr)
	files["hi.socket"] = "[Socket]\nListenStream=" + hiAddr + "\nAccept=yes\n"
	files["hi@.service"] = "[Service]\nExecStart=/bin/echo hi\nStandardInput=socket\n"
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: []string{"--log-level", "debug"}, RuntimeDir: rt}, files)
	stop := load(t, addr)
	// Use up the tmpfs's inodes.
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(rt, fmt.Sprintf("fill%d", i)))
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		f.Close()
	}
	out, err := sockctl(rt, "upgrade", "--binary", filepath.Join(bin2Dir, "sockd"))
	t.Logf("sockctl upgrade: %v: %s", err, strings.TrimSpace(out))
	waitFor(t, s, "the rollback", func() bool { return strings.Contains(s.LogText(), "serving the units without this socket") })
	if got, err := get(hiAddr); err != nil || got != "hi\n" {
		t.Errorf("after the failed upgrade, Accept=yes: %q, %v; want \"hi\" (sockd serves on)", got, err)
	}
	if _, err := get(addr); err != nil {
		t.Errorf("after the failed upgrade: %v", err)
	}
	checkLoad(t, stop(), 50)
	log := s.LogText()
	for _, want := range []string{"rolling back to the previous binary", "this is the previous binary again"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
}
