package packaging

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
)

// TestContainerPID1 runs the demo image's root file system (packaging/
// build rootfs example: static sockd, sockctl and hello-http, the units in
// /etc/sockd/units) with sockd as PID 1, as a container runtime would:
// new PID, mount and network namespaces, /dev and /proc mounted, chroot.
// TestPodmanImage runs the image itself; this test needs no container
// runtime, and stops sockd with each of its stop signals. It checks
// from inside the container that sockd is PID 1, that sockctl is-active
// works as a probe, that the socket-activated example answers, that no
// zombie is left after a service exits, and that each stop signal stops
// it within the service's stop timeout with exit status 0.
func TestContainerPID1(t *testing.T) {
	testenv.RequireRoot(t, "PID, mount and network namespaces, chroot")
	for _, p := range []string{"unshare", "nsenter", "ip", "chroot"} {
		testenv.RequireProgram(t, p)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR} {
		t.Run(unix.SignalName(sig), func(t *testing.T) { runContainer(t, sig) })
	}
}

func runContainer(t *testing.T, stopSig syscall.Signal) {
	root := filepath.Join(t.TempDir(), "root")
	run(t, "cp", "-a", filepath.Join(dist, "rootfs"), root)
	run(t, "cp", "-a", filepath.Join(dist, "example")+"/.", root)

	d := startDaemon(t, "unshare", "--pid", "--fork", "--mount", "--net", "--propagation", "private", "sh", "-c",
		`mount --rbind /dev "$0/dev" && mount -t proc proc "$0/proc" && ip link set lo up && exec chroot "$0" /usr/bin/sockd`, root)
	d.waitFor(`msg="sockd ready" units=1`, 20*time.Second)
	pid := childOf(d.cmd.Process.Pid) // unshare's child: sh, then chroot, then sockd
	if ns := nsPid(pid); ns != "1" {
		t.Fatalf("sockd is pid %q in its PID namespace; want 1", ns)
	}
	// Inside the container, as `kubectl exec` or a probe would run it.
	inside := func(args ...string) (string, int) {
		cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "--mount", "--pid", "--net", "--root", "--wd"}, args...)...)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := inside("/usr/bin/sockctl", "is-active", "hello"); code != 0 || strings.TrimSpace(out) != "active" {
		t.Fatalf("probe sockctl is-active hello = %q, exit %d; want active, 0", out, code)
	}
	if out, code := inside("/usr/bin/sockctl", "is-active", "--quiet", "nothere"); code == 0 {
		t.Errorf("probe of a unit that does not exist exits 0:\n%s", out)
	}

	first := get(t, pid, "127.0.0.1:8080")
	if !strings.HasPrefix(first, "hello from pid ") {
		t.Fatalf("GET http://127.0.0.1:8080/ in the container = %q; want hello-http's answer", first)
	}
	// The first instance exits; PID 1 must reap it and every process.
	if out, code := inside("/usr/bin/sockctl", "restart", "hello.service"); code != 0 {
		t.Fatalf("sockctl restart hello.service: exit %d\n%s", code, out)
	}
	if second := get(t, pid, "127.0.0.1:8080"); second == first {
		t.Errorf("the same instance answered after a restart: %q", second)
	}
	procDir := fmt.Sprintf("/proc/%d/root/proc", pid) // the container's own /proc
	deadline := time.Now().Add(5 * time.Second)
	for z := zombies(procDir); len(z) > 0; z = zombies(procDir) {
		if time.Now().After(deadline) {
			t.Fatalf("zombies in the container: %v", z)
		}
		time.Sleep(20 * time.Millisecond) // reaping is asynchronous; nothing signals "reaped"
	}

	code, took := d.stop(pid, stopSig, 30*time.Second)
	if code != 0 {
		t.Errorf("sockd as PID 1 exited %d after %v; want 0", code, stopSig)
	}
	if took > 15*time.Second { // hello.service's TimeoutStopSec=
		t.Errorf("stopping took %v; want within the stop timeout (15s)", took)
	}
	t.Logf("%v: sockd (PID 1) stopped in %v", stopSig, took.Round(time.Millisecond))
}

// get sends GET / to addr in the network namespace of pid.
func get(t *testing.T, pid int, addr string) string {
	t.Helper()
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// This thread enters the namespace and is never used again
		// (no UnlockOSThread): the runtime ends it with the goroutine.
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, err = bufio.NewReader(resp.Body).WriteTo(&b)
		done <- result{body: b.String(), err: err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("GET http://%s/ in the container: %v", addr, r.err)
	}
	return r.body
}

// zombies lists the zombie processes in a /proc.
func zombies(procDir string) []string {
	ents, _ := os.ReadDir(procDir)
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if st, _ := os.ReadFile(filepath.Join(procDir, e.Name(), "stat")); procState(string(st)) == "Z" {
			out = append(out, e.Name())
		}
	}
	return out
}

// procState returns the state letter of a /proc/PID/stat line.
func procState(stat string) string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+3 > len(stat) {
		return ""
	}
	return stat[i+2 : i+3]
}

// childOf returns the first child of pid.
func childOf(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	c, _ := strconv.Atoi(f[0])
	return c
}

// nsPid returns pid's pid in its own PID namespace.
func nsPid(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			return f[len(f)-1]
		}
	}
	return ""
}
