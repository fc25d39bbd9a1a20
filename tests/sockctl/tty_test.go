package sockctl_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair (pty(7)): the master to read
// what the program writes, the slave to give it as its terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// sockctlOnTTY runs sockctl with its stdout on a terminal and returns
// what it wrote there.
func (e *env) sockctlOnTTY(args ...string) string {
	e.t.Helper()
	master, slave := openPTY(e.t)
	defer master.Close()
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+e.rt, "TERM=xterm", "NO_COLOR=")
	cmd.Stdout = slave
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	slave.Close() // the child holds it now: reading ends when it exits
	var out bytes.Buffer
	io.Copy(&out, master) // ends with EIO once the child closed the terminal
	if err := cmd.Wait(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			e.t.Fatal(err)
		}
	}
	return out.String()
}

// sockctl status colours its output on a terminal, as systemctl does,
// and writes none when piped (issue 18).
func TestStatusColourOnTTY(t *testing.T) {
	e := startSockd(t, testUnits)
	e.connect("web.sock")
	e.connect("crash.sock")
	e.waitState("web.service", "active", "running")
	e.waitState("crash.socket", "failed", "failed")

	tty := e.sockctlOnTTY("status", "web.service", "crash.socket")
	for _, want := range []string{"\x1b[0;1;32m", "\x1b[0;1;31m", "\x1b[0m"} { // green active, red failed
		if !strings.Contains(tty, want) {
			t.Errorf("status on a terminal lacks %q:\n%q", want, tty)
		}
	}
	if !strings.Contains(tty, "active (running)") {
		t.Errorf("status on a terminal lacks the state:\n%q", tty)
	}
	piped := e.sockctl("status", "web.service", "crash.socket")
	if strings.Contains(piped.stdout, "\x1b[") {
		t.Errorf("status through a pipe has escape sequences:\n%q", piped.stdout)
	}
	if !strings.Contains(piped.stdout, "active (running)") {
		t.Errorf("piped status lacks the state:\n%s", piped.stdout)
	}
}
