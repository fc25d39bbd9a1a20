// Package security_test attacks a running sockd the way issue 16's
// adversarial review did, from a real unprivileged user (the test binary
// re-executed as nobody), and checks that each attack now fails: notify
// sockets that cannot be squatted, notify floods that cost a log line,
// a runtime directory another user made, unit directories holding a
// FIFO or a huge file.
package security_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir string

// helpers are what the test binary does when re-executed as nobody
// (SECURITY_HELPER names one; its arguments follow on the command line).
var helpers = map[string]func(args []string) error{
	"squat": squat,
	"flood": flood,
}

func TestMain(m *testing.M) {
	if name := os.Getenv("SECURITY_HELPER"); name != "" {
		if err := helpers[name](os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	e2e.Main(m, &binDir, "../../cmd/sockd", "../../cmd/sockctl", "../probe")
}

const nobody, nogroup = 65534, 65534

// attacker is the test binary copied where nobody can run it.
func attacker(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t, "runs the attacker as nobody")
	dir, err := os.MkdirTemp("", "sockd-attacker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "attacker.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// asNobody starts helper as nobody; it has said "ready" on its stdout
// when asNobody returns, and gets EOF on its stdin (the end of the
// attack) from the returned stop, which waits for it.
func asNobody(t *testing.T, exe, helper string, args ...string) (stop func() error) {
	t.Helper()
	line := make(chan string, 1)
	stop = asNobodyLine(t, exe, line, helper, args...)
	if got := <-line; got != "ready" {
		stop()
		t.Fatalf("%s as nobody did not get ready: %q", helper, got)
	}
	return stop
}

// asNobodyLine is asNobody for a helper whose first line says more than
// "ready": the line goes to line.
func asNobodyLine(t *testing.T, exe string, line chan<- string, helper string, args ...string) (stop func() error) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "SECURITY_HELPER="+helper)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nogroup, Groups: []uint32{}}}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l, _ := bufio.NewReader(out).ReadString('\n')
	line <- strings.TrimSpace(l)
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		in.Close()
		go io.Copy(io.Discard, out)
		return cmd.Wait()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitStdin says "ready" and waits for the end of the attack.
func waitStdin() {
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
}

// waitLog waits (10 s at most) until sockd's log contains s.
func waitLog(t *testing.T, s *e2e.Sockd, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.LogText(), want) {
			return
		}
	}
	t.Fatalf("sockd did not log %q:\n%s", want, s.LogText())
}

// sockctl runs sockctl against s and returns its output and exit code.
func sockctl(t *testing.T, s *e2e.Sockd, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+s.RuntimeDir)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// init registers the helpers that need more than this file.
func init() { helpers["hold"] = hold }
