package security_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
)

// TestListenersKeepFDHeadroom is finding 8 of issue 16: under
// RLIMIT_NOFILE=256, 300 listeners took every fd: sockctl list hung and
// every activation failed on /dev/null. Now the listeners past the
// headroom are refused with an error naming their unit, and sockd still
// answers sockctl and activates the units it bound.
func TestListenersKeepFDHeadroom(t *testing.T) {
	prlimit := testenv.RequireProgram(t, "prlimit")
	work := t.TempDir()
	units := filepath.Join(work, "units")
	os.Mkdir(units, 0o755)
	for i := range 300 {
		name := fmt.Sprintf("u%03d", i)
		os.WriteFile(filepath.Join(units, name+".socket"), []byte("[Socket]\nListenStream="+filepath.Join(work, name+".sock")+"\n"), 0o644)
		os.WriteFile(filepath.Join(units, name+".service"), []byte("[Service]\nExecStart="+filepath.Join(binDir, "probe")+" -report "+work+" -answer "+name+"\n"), 0o644)
	}
	rt := filepath.Join(work, "rt")
	logPath := filepath.Join(work, "sockd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(prlimit, "--nofile=256:256", filepath.Join(binDir, "sockd"), "--units", units, "--runtime-dir", rt)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	logText := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logText(), "sockd ready"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sockd is not ready:\n%.3000s", logText())
		}
	}
	log := logText()
	refused := strings.Count(log, "out of file descriptors")
	if refused == 0 || refused == 300 || !strings.Contains(log, `unit u299.socket: listen `+filepath.Join(work, "u299.sock")) {
		t.Errorf("%d of 300 units refused for lack of fds; want some, naming the unit:\n%.3000s", refused, log)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list := exec.CommandContext(ctx, filepath.Join(binDir, "sockctl"), "list")
	list.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+rt)
	if out, err := list.CombinedOutput(); err != nil || !strings.Contains(string(out), "u000.socket") {
		t.Fatalf("sockctl list under the fd limit: %v\n%.2000s", err, out)
	}
	// Activate a dozen bound units at once: each start needs fds.
	for i := range 12 {
		name := fmt.Sprintf("u%03d", i)
		c, err := net.DialTimeout("unix", filepath.Join(work, name+".sock"), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		c.(*net.UnixConn).CloseWrite()
		b, err := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(b), name+" ") {
			t.Errorf("activating %s under the fd limit: %q %v\n%.3000s", name, b, err, logText())
		}
	}
}
