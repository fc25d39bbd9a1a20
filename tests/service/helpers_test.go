// Package service_test checks the systemd.service(5), systemd.exec(5)
// and systemd.unit(5) settings of issue 14 end to end: a real sockd runs
// the probe service (tests/probe), which reports from its own side what
// it was started with (limits, scheduling, directories, …).
package service_test

import (
	"encoding/json"
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

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir string

func TestMain(m *testing.M) {
	e2e.Main(m, &binDir, "../../cmd/sockd", "../../cmd/sockctl", "../probe")
}

// dirInfo is one directory as the probe found it.
type dirInfo struct {
	Exists bool   `json:"exists"`
	Mode   uint32 `json:"mode"`
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
}

// report is the part of the probe's report these tests read.
type report struct {
	Pid    int      `json:"pid"`
	Env    []string `json:"env"`
	Passed []struct {
		Nonblock bool `json:"nonblock"`
	} `json:"passed"`
	Process struct {
		Limits        map[string][2]uint64 `json:"limits"`
		OOMScoreAdj   int                  `json:"oom_score_adj"`
		Nice          int                  `json:"nice"`
		SchedPolicy   int                  `json:"sched_policy"`
		SchedPriority int                  `json:"sched_priority"`
		Affinity      []int                `json:"cpu_affinity"`
		IOPrio        int                  `json:"ioprio"`
		Personality   int                  `json:"personality"`
		Cgroup        string               `json:"cgroup"`
		Dirs          map[string]dirInfo   `json:"dirs"`
		WatchdogUsec  int64                `json:"watchdog_usec"`
		Cgroups       map[string]string    `json:"cgroups"`
		Forks         *struct {
			Tried, OK int
			Err       string
		} `json:"forks"`
	} `json:"process"`
}

func (r *report) env(key string) string {
	for _, kv := range r.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// probeUnits returns NAME.socket listening on $WORK/NAME.sock and
// NAME.service running the probe (reporting to $WORK/reports, with args)
// and the extra [Service] lines; unitLines go to the service's [Unit].
func probeUnits(name, args string, service []string, unitLines ...string) map[string]string {
	exec := fmt.Sprintf("ExecStart=%s -report $WORK/reports %s", filepath.Join(binDir, "probe"), args)
	svc := "[Unit]\n" + strings.Join(unitLines, "\n") + "\n[Service]\n" + exec + "\n" + strings.Join(service, "\n") + "\n"
	return map[string]string{
		name + ".socket":  "[Socket]\nListenStream=$WORK/" + name + ".sock\n",
		name + ".service": svc,
	}
}

func start(t *testing.T, files map[string]string) *e2e.Sockd {
	t.Helper()
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: []string{"--log-level", "debug"}}, files)
	if err := os.MkdirAll(filepath.Join(s.Work, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// ask connects to $WORK/NAME.sock, which starts the service if it is
// idle, and returns the probe's answer "probe PID FDNAME" (written after
// its report), or the error.
func ask(s *e2e.Sockd, name string) (string, error) {
	c, err := net.DialTimeout("unix", filepath.Join(s.Work, name+".sock"), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.(*net.UnixConn).CloseWrite()
	b, err := io.ReadAll(c)
	return strings.TrimSpace(string(b)), err
}

// askReport asks the probe of unit name and returns its report.
func askReport(t *testing.T, s *e2e.Sockd, name string) *report {
	t.Helper()
	answer, err := ask(s, name)
	if err != nil || !strings.HasPrefix(answer, "probe ") {
		t.Fatalf("asking %s: %q, %v; sockd's log:\n%s", name, answer, err, s.LogText())
	}
	var pid int
	fmt.Sscanf(answer, "probe %d", &pid)
	b, err := os.ReadFile(filepath.Join(s.Work, "reports", fmt.Sprintf("report-%d.json", pid)))
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return &r
}

// sockctl runs sockctl against s and returns its output and exit code.
func sockctl(t *testing.T, s *e2e.Sockd, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+s.RuntimeDir, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("sockctl %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

// unitStatus returns sockctl status --json of a unit.
func unitStatus(t *testing.T, s *e2e.Sockd, name string) control.Unit {
	t.Helper()
	out, _ := sockctl(t, s, "status", "--json", name)
	var us []control.Unit
	if err := json.Unmarshal([]byte(out), &us); err != nil || len(us) != 1 {
		t.Fatalf("sockctl status --json %s: %v\n%s", name, err, out)
	}
	return us[0]
}

// waitStatus waits (10 s at most) until the unit's status satisfies ok,
// asking sockctl each time sockd logs something.
func waitStatus(t *testing.T, s *e2e.Sockd, name string, ok func(control.Unit) bool) control.Unit {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		logLen := len(s.LogText())
		u := unitStatus(t, s, name)
		if ok(u) {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of %s never matched; last %+v\nlog:\n%s", name, u, s.LogText())
		}
		for len(s.LogText()) == logLen && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // sockd logs every transition
		}
	}
}

// waitLog waits (10 s at most) until a line of sockd's log contains sub,
// and returns that line.
func waitLog(t *testing.T, s *e2e.Sockd, sub string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		text := s.LogText()
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, sub) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line contains %q:\n%s", sub, text)
		}
		for len(s.LogText()) == len(text) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // until sockd logs more
		}
	}
}
