package service_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
)

// TestForking: Type=forking with PIDFile=: the started shell forks the
// probe and exits; the probe, named by the PID file, becomes the main
// process; its death is seen (sockd is the subreaper that adopted it) and
// Restart= applies; sockctl stop kills it.
func TestForking(t *testing.T) {
	probe := filepath.Join(binDir, "probe")
	s := start(t, map[string]string{
		"fork.socket": "[Socket]\nListenStream=$WORK/fork.sock\n",
		"fork.service": "[Service]\nType=forking\nPIDFile=$WORK/fork.pid\nRestart=on-failure\nRestartSec=10ms\n" +
			"ExecStart=/bin/sh -c '" + probe + " -report $WORK/reports & echo $$! > $WORK/fork.pid'\n",
	})
	if out, code := sockctl(t, s, "start", "fork.service"); code != 0 {
		t.Fatalf("sockctl start: %d %s", code, out)
	}
	u := waitStatus(t, s, "fork.service", func(u control.Unit) bool { return u.State == "running" })
	b, _ := os.ReadFile(filepath.Join(s.Work, "fork.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 || u.MainPID != pid {
		t.Fatalf("main pid %d; PID file says %q", u.MainPID, b)
	}
	waitLog(t, s, fmt.Sprintf("probe: pid %d reported", pid))
	syscall.Kill(pid, syscall.SIGKILL)
	u = waitStatus(t, s, "fork.service", func(u control.Unit) bool { return u.Restarts == 1 && u.State == "running" })
	if u.LastExit == nil || u.LastExit.Status != int(syscall.SIGKILL) || u.MainPID == pid {
		t.Errorf("after SIGKILL of %d: last exit %+v, main pid %d", pid, u.LastExit, u.MainPID)
	}
	second := u.MainPID
	if out, code := sockctl(t, s, "stop", "fork.service"); code != 0 {
		t.Fatalf("sockctl stop: %d %s", code, out)
	}
	if err := syscall.Kill(second, 0); err != syscall.ESRCH {
		t.Errorf("the daemon %d still exists after stop: %v", second, err)
	}
}

// TestForkingWithoutPIDFile: a PID file that never appears fails the
// start with result protocol.
func TestForkingWithoutPIDFile(t *testing.T) {
	s := start(t, map[string]string{
		"nopid.socket":  "[Socket]\nListenStream=$WORK/nopid.sock\n",
		"nopid.service": "[Service]\nType=forking\nPIDFile=$WORK/never.pid\nExecStart=/bin/true\n",
	})
	sockctl(t, s, "start", "nopid.service")
	waitStatus(t, s, "nopid.service", func(u control.Unit) bool { return u.Result == "protocol" })
}

// TestOneshot: Type=oneshot runs its ExecStart= commands in order with
// the listeners passed; with RemainAfterExit=yes the service stays
// active without a process until it is stopped, which runs ExecStop=.
func TestOneshot(t *testing.T) {
	s := start(t, map[string]string{
		"one.socket": "[Socket]\nListenStream=$WORK/one.sock\n",
		"one.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\n" +
			"ExecStart=/bin/sh -c 'echo first $$LISTEN_FDS >> $WORK/log'\n" +
			"ExecStart=/bin/sh -c 'echo second >> $WORK/log'\n" +
			"ExecStop=/bin/sh -c 'echo stop >> $WORK/log'\n",
	})
	sockctl(t, s, "start", "one.service")
	u := waitStatus(t, s, "one.service", func(u control.Unit) bool { return u.State == "running" })
	if u.MainPID != 0 {
		t.Errorf("main pid %d after the commands ended", u.MainPID)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Work, "log")); string(b) != "first 1\nsecond\n" {
		t.Errorf("the commands wrote %q", b)
	}
	sockctl(t, s, "stop", "one.service")
	if b, _ := os.ReadFile(filepath.Join(s.Work, "log")); !strings.HasSuffix(string(b), "stop\n") {
		t.Errorf("after stop the log is %q", b)
	}
	if u := unitStatus(t, s, "one.service"); u.State != "listening" {
		t.Errorf("after stop: %s", u.State)
	}
}

// TestForkingGuessMainPID: Type=forking without PIDFile= finds the
// daemon in the service's cgroup (GuessMainPID=yes, the default).
func TestForkingGuessMainPID(t *testing.T) {
	testenv.RequireRoot(t, "a cgroup for the service")
	probe := filepath.Join(binDir, "probe")
	s := start(t, map[string]string{
		"guess.socket":  "[Socket]\nListenStream=$WORK/guess.sock\n",
		"guess.service": "[Service]\nType=forking\nExecStart=/bin/sh -c '" + probe + " -report $WORK/reports & echo $$! > $WORK/guess.pid'\n",
	})
	sockctl(t, s, "start", "guess.service")
	u := waitStatus(t, s, "guess.service", func(u control.Unit) bool { return u.State == "running" || u.State == "listening" && u.LastExit != nil })
	b, _ := os.ReadFile(filepath.Join(s.Work, "guess.pid"))
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid == 0 || u.MainPID != pid {
		t.Fatalf("state %s, main pid %d; the shell started %q\n%s", u.State, u.MainPID, b, s.LogText())
	}
}

// TestMainPIDNotified: MAINPID= makes the named process the main
// process; its death ends the service.
func TestMainPIDNotified(t *testing.T) {
	testenv.RequireProgram(t, "systemd-notify")
	probe := filepath.Join(binDir, "probe")
	s := start(t, map[string]string{
		"mp.socket": "[Socket]\nListenStream=$WORK/mp.sock\n",
		// systemd-notify is the shell's child: as in systemd, only
		// NotifyAccess=all lets it name the main process.
		"mp.service": "[Service]\nType=notify\nNotifyAccess=all\n" +
			"ExecStart=/bin/sh -c '" + probe + " -report $WORK/reports -ignore-term & systemd-notify --ready --pid=$$!; wait'\n",
	})
	sockctl(t, s, "start", "mp.service")
	u := waitStatus(t, s, "mp.service", func(u control.Unit) bool { return u.State == "running" })
	waitLog(t, s, "the service named a new main process (MAINPID=)")
	u = unitStatus(t, s, "mp.service")
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(u.MainPID) + "/comm")
	if strings.TrimSpace(string(comm)) != "probe" {
		t.Errorf("main pid %d is %q; want the probe", u.MainPID, comm)
	}
	syscall.Kill(u.MainPID, syscall.SIGKILL)
	waitStatus(t, s, "mp.service", func(u control.Unit) bool { return u.State == "listening" && u.MainPID == 0 })
}
