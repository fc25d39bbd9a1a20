package tests

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
)

// TestPID1ReapsOrphans runs sockd as PID 1 of a new PID namespace, as in a
// container, with a service whose ExecStartPre= leaves orphans behind:
// they are reparented to sockd, which must reap them (no zombie remains),
// and the service still answers.
func TestPID1ReapsOrphans(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t, "a PID namespace")
	needTools(t, "unshare")
	e := newEnv(t)
	p := freePort(t)
	e.unit("orphans", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p)}, []string{
		`ExecStartPre=/bin/sh -c "sleep 0.2 & sleep 0.3 & exit 0"`,
		e.probe(),
	})
	s := e.startCmd("unshare", "--pid", "--fork", "--kill-child", sockdBin, "--units", e.unitDir, "--runtime-dir", e.runtimeDir)
	s.waitLog(15*time.Second, msgIs("sockd ready"))
	checkAnswer(t, mustAsk(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", p)), "orphans.socket")

	sockdPid := childOf(s.pid())
	if sockdPid == 0 {
		t.Fatalf("no sockd process under unshare (pid %d)", s.pid())
	}
	if ns := nsPid(sockdPid); ns != "1" {
		t.Fatalf("sockd is pid %s in its namespace, want 1", ns)
	}
	// The orphans exit after 0.3 s; none may stay a zombie.
	if !waitFor(5*time.Second, func() bool { return len(zombiesOf(sockdPid)) == 0 && len(childrenNamed(sockdPid, "sleep")) == 0 }) {
		t.Errorf("children of sockd (PID 1) left: zombies %v, sleepers %v", zombiesOf(sockdPid), childrenNamed(sockdPid, "sleep"))
	}
	// unshare does not pass SIGTERM on: stop sockd itself, as a container
	// runtime would, and expect a clean exit (unshare exits with it).
	if err := syscall.Kill(sockdPid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Errorf("sockd as PID 1 exited %d after SIGTERM, want 0", code)
	}
}

func mustAsk(t *testing.T, network, addr string) string {
	t.Helper()
	got, err := ask(network, addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// procStat returns the state letter and parent pid of pid.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	rest := s[strings.LastIndexByte(s, ')')+2:] // after "pid (comm) "
	f := strings.Fields(rest)
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// children returns the pids whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range ents {
		c, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(c); ok && ppid == pid {
			out = append(out, c)
		}
	}
	return out
}

func childOf(pid int) int {
	if cs := children(pid); len(cs) > 0 {
		return cs[0]
	}
	return 0
}

func zombiesOf(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		if st, _, _ := procStat(c); st == "Z" {
			out = append(out, c)
		}
	}
	return out
}

func childrenNamed(pid int, comm string) []int {
	var out []int
	for _, c := range children(pid) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
		if strings.TrimSpace(string(b)) == comm {
			out = append(out, c)
		}
	}
	return out
}

// nsPid returns pid's pid in its own (innermost) PID namespace.
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
