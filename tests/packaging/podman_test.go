package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
)

// TestPodmanImage builds the demo image from packaging/container/
// Containerfile with podman and runs it: sockd is PID 1, answers through
// the socket-activated example, `sockctl is-active` works as a probe
// through `podman exec`, no zombie is left after a service exits, and
// `podman stop` (SIGTERM) stops it with exit status 0 within the stop
// timeout.
//
// podman runs with a storage of the test's own (vfs, under a temporary
// directory), runc (crun refuses this machine's hybrid cgroup layout)
// and no default ulimits (podman raises RLIMIT_NOFILE and RLIMIT_NPROC,
// which needs CAP_SYS_RESOURCE, which this machine's root lacks).
func TestPodmanImage(t *testing.T) {
	testenv.RequireRoot(t, "rootful podman")
	podmanBin := testenv.RequireProgram(t, "podman")
	testenv.RequireProgram(t, "runc")
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	podman := func(args ...string) (string, error) {
		all := append([]string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc"}, args...)
		cmd := exec.Command(podmanBin, all...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := podman(args...)
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("build", "-f", filepath.Join(repo, "packaging/container/Containerfile"), "--target", "demo", "-t", "localhost/sockd-demo:test", dist)
	name := "sockd-test-" + strconv.Itoa(os.Getpid())
	must("run", "-d", "--network", "none", "--name", name, "localhost/sockd-demo:test")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := podman("logs", name)
			t.Logf("podman logs:\n%s", out)
		}
		podman("rm", "-f", "-t", "0", name)
	})

	// The readiness probe, as Kubernetes would run it, until it passes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := podman("exec", name, "/usr/bin/sockctl", "is-active", "hello")
		if err == nil && strings.TrimSpace(out) == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe sockctl is-active hello never passed: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond) // a probe's period: nothing to wait on from outside
	}
	pid, err := strconv.Atoi(strings.TrimSpace(must("inspect", "-f", "{{.State.Pid}}", name)))
	if err != nil || pid == 0 {
		t.Fatalf("container pid: %v", err)
	}
	if ns := nsPid(pid); ns != "1" {
		t.Fatalf("sockd is pid %q in the container; want 1", ns)
	}
	first := get(t, pid, "127.0.0.1:8080")
	if !strings.HasPrefix(first, "hello from pid ") {
		t.Fatalf("GET / in the container = %q; want hello-http's answer", first)
	}
	must("exec", name, "/usr/bin/sockctl", "restart", "hello.service")
	if second := get(t, pid, "127.0.0.1:8080"); second == first {
		t.Errorf("the same instance answered after a restart: %q", second)
	}
	procDir := filepath.Join("/proc", strconv.Itoa(pid), "root", "proc")
	deadline = time.Now().Add(5 * time.Second)
	for z := zombies(procDir); len(z) > 0; z = zombies(procDir) {
		if time.Now().After(deadline) {
			t.Fatalf("zombies in the container: %v", z)
		}
		time.Sleep(20 * time.Millisecond) // reaping is asynchronous; nothing signals "reaped"
	}

	start := time.Now()
	must("stop", "-t", "30", name) // SIGTERM, then SIGKILL after 30 s
	took := time.Since(start)
	if code := strings.TrimSpace(must("inspect", "-f", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("sockd exited %s after podman stop; want 0", code)
	}
	if took > 15*time.Second { // hello.service's TimeoutStopSec=
		t.Errorf("podman stop took %v; want within the stop timeout (15s)", took)
	}
	t.Logf("podman stop: sockd (PID 1) exited 0 in %v", took.Round(time.Millisecond))
}
