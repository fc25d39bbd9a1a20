// Package fdstore_test checks sockd's fd store (FDSTORE=1,
// FileDescriptorStoreMax=) end to end: a real sockd, a real service
// (./svc) that stores a client connection and a memfd, crashes, and gets
// both back at its next start.
package fdstore_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir string

func TestMain(m *testing.M) {
	e2e.Main(m, &binDir, "../../cmd/sockd", "../../cmd/sockctl", "./svc")
}

// units returns the unit files of a unit "store" running svc with
// FileDescriptorStoreMax=max and Restart=always, and svc's extra
// arguments.
func units(max int, args string) map[string]string {
	return map[string]string{
		"store.socket": "[Socket]\nListenStream=$WORK/store.sock\n",
		"store.service": fmt.Sprintf("[Service]\nType=notify\nRestart=always\nRestartSec=100ms\n"+
			"FileDescriptorStoreMax=%d\nExecStart=%s $WORK/report %s\n", max, filepath.Join(binDir, "svc"), args),
	}
}

func start(t *testing.T, max int) *e2e.Sockd {
	return e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: []string{"--log-level", "debug"}}, units(max, ""))
}

// TestStoreSurvivesUpgrade is TestStoreSurvivesCrash with an upgrade of
// sockd in between: the first instance stores the connection and the
// memfd and waits; sockd re-executes itself (sockctl upgrade); the
// instance is killed; the next one, started by the new image, gets both
// back with their names and answers on the stored connection.
func TestStoreSurvivesUpgrade(t *testing.T) {
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: []string{"--log-level", "debug"}}, units(4, "hold"))
	c := dial(t, s)
	r := bufio.NewReader(c)
	if got := readLine(t, c, r); got != "stored" {
		t.Fatalf("first line %q, want \"stored\"", got)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(sockctl(t, s, "status", "store.service"), "FD Store: 2"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the fd store never held 2 fds:\n%s", sockctl(t, s, "status", "store.service"))
		}
	}
	if out := sockctl(t, s, "upgrade"); !strings.Contains(out, "generation 1 → 2") {
		t.Fatalf("sockctl upgrade: %s", out)
	}
	if out := sockctl(t, s, "status", "store.service"); !strings.Contains(out, "FD Store: 2") {
		t.Errorf("after the upgrade sockctl status does not list the 2 stored fds:\n%s", out)
	}
	var pid int
	fmt.Sscanf(waitReport(t, s, 1)[0], "pid=%d", &pid)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, c, r); got != "hello from gen 2" {
		t.Fatalf("after the upgrade and the crash the client read %q, want \"hello from gen 2\"", got)
	}
	lines := waitReport(t, s, 2)
	if want := "fds=3 names=store.socket:conn:state fdstore=4 state=state-from-gen-1"; !strings.HasSuffix(lines[1], want) {
		t.Errorf("start after the upgrade reported %q, want it to end in %q", lines[1], want)
	}
}

// TestStoreSurvivesCrash: the first instance stores the connection
// (twice: one copy is a duplicate) and a memfd, then dies of SIGKILL;
// Restart=always starts the second, which gets listener, connection and
// memfd as fds 3, 4, 5 named "store.socket:conn:state" (insertion
// order), reads the memfd and answers on the connection, which the
// client, connected all along, receives.
func TestStoreSurvivesCrash(t *testing.T) {
	s := start(t, 4)
	c := dial(t, s)
	r := bufio.NewReader(c)
	if got := readLine(t, c, r); got != "stored" {
		t.Fatalf("first line %q, want \"stored\"", got)
	}
	if got := readLine(t, c, r); got != "hello from gen 2" {
		t.Fatalf("second line %q, want \"hello from gen 2\"", got)
	}
	lines := waitReport(t, s, 2)
	for i, want := range []string{
		"fds=1 names=store.socket fdstore=4 state=",
		"fds=3 names=store.socket:conn:state fdstore=4 state=state-from-gen-1",
	} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("start %d reported %q, want it to end in %q", i+1, lines[i], want)
		}
		var pid, lpid int
		fmt.Sscanf(lines[i], "pid=%d listen_pid=%d", &pid, &lpid)
		if pid == 0 || pid != lpid {
			t.Errorf("start %d: LISTEN_PID is not the service's pid: %q", i+1, lines[i])
		}
	}
	waitLog(t, s, "removed fds from the fd store")

	// What is left (the memfd) is listed by sockctl status, kept across
	// sockctl restart, and closed when the socket stops.
	out := sockctl(t, s, "status", "store.service")
	if !strings.Contains(out, "FD Store: 1 (limit 4)") || !strings.Contains(out, "state reg ") || !strings.Contains(out, "/memfd:state") {
		t.Errorf("sockctl status does not list the fd store (one memfd named state):\n%s", out)
	}
	sockctl(t, s, "restart", "store.service")
	lines = waitReport(t, s, 3)
	if want := "fds=2 names=store.socket:state fdstore=4 state=state-from-gen-1"; !strings.HasSuffix(lines[2], want) {
		t.Errorf("start after sockctl restart reported %q, want it to end in %q", lines[2], want)
	}
	if n := memfds(t, s.Pid()); n != 1 {
		t.Errorf("sockd holds %d memfds named state, want 1", n)
	}
	sockctl(t, s, "stop", "store.socket")
	if n := memfds(t, s.Pid()); n != 0 {
		t.Errorf("after the socket stopped, sockd still holds %d memfds named state", n)
	}
}

// sockctl runs sockctl against s and returns its output; it fails the
// test if sockctl fails (exit 3, "not active", aside).
func sockctl(t *testing.T, s *e2e.Sockd, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+s.RuntimeDir, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 3) {
		t.Fatalf("sockctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// memfds counts the fds of process pid that are the svc's state memfd.
func memfds(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); strings.HasPrefix(target, "/memfd:state") {
			n++
		}
	}
	return n
}

// TestNoStoreWithoutMax: with FileDescriptorStoreMax=0 the fds are
// closed with a warning; the client sees EOF once the service died, and
// the next start gets only the listener and no $FDSTORE.
func TestNoStoreWithoutMax(t *testing.T) {
	s := start(t, 0)
	c := dial(t, s)
	r := bufio.NewReader(c)
	if got := readLine(t, c, r); got != "stored" {
		t.Fatalf("first line %q, want \"stored\"", got)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rest, err := r.ReadString('\n'); err != io.EOF {
		t.Fatalf("after the crash, read %q, %v; want EOF (nobody holds the connection)", rest, err)
	}
	lines := waitReport(t, s, 2)
	for i, l := range lines {
		if !strings.HasSuffix(l, "fds=1 names=store.socket fdstore= state=") {
			t.Errorf("start %d reported %q, want one fd and no $FDSTORE", i+1, l)
		}
	}
	waitLog(t, s, "FileDescriptorStoreMax=0; closing the fds")
}

func dial(t *testing.T, s *e2e.Sockd) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(s.Work, "store.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readLine(t *testing.T, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading from the service: %q, %v", l, err)
	}
	return strings.TrimSuffix(l, "\n")
}

// waitReport waits (10 s at most) until the service reported n starts.
func waitReport(t *testing.T, s *e2e.Sockd, n int) []string {
	t.Helper()
	var lines []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(s.Work, "report"))
		if lines = strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) >= n && lines[0] != "" {
			return lines
		}
	}
	t.Fatalf("service reported %q, want %d starts; sockd's log:\n%s", lines, n, s.LogText())
	return nil
}

func waitLog(t *testing.T, s *e2e.Sockd, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.LogText(), text) {
			return
		}
	}
	t.Fatalf("sockd never logged %q; its log:\n%s", text, s.LogText())
}

// TestHungUpEntriesAreDropped: as in systemd, a stored connection whose
// peer went away is dropped from the fd store (FDPOLL), unless it was
// stored with FDPOLL=0.
func TestHungUpEntriesAreDropped(t *testing.T) {
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: []string{"--log-level", "debug"}}, units(4, "poll"))
	for range 2 {
		c := dial(t, s)
		if got := readLine(t, c, bufio.NewReader(c)); got != "stored" {
			t.Fatalf("read %q, want \"stored\"", got)
		}
		c.Close()
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out = sockctl(t, s, "status", "store.service")
		if strings.Contains(out, "FD Store: 1 ") && strings.Contains(out, "unpolled") {
			break
		}
	}
	t.Logf("status:\n%s", out)
	if !strings.Contains(out, "FD Store: 1 ") || !strings.Contains(out, "unpolled sock") {
		t.Fatalf("after both peers closed, want only the FDPOLL=0 entry \"unpolled\" left:\n%s", out)
	}
	waitLog(t, s, "removed a hung-up fd from the fd store")
}
