// Package handoff_test runs the built sockd and takes its units'
// listeners over RUNTIME_DIR/handoff.sock with the handoff package, as an
// outside process would.
package handoff_test

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

	"github.com/sockd/sockd/handoff"
	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/daemon"
)

var binDir string

func TestMain(m *testing.M) {
	if os.Getenv("HANDOFF_E2E_CHILD") == "client" {
		os.Exit(childClient())
	}
	dir, err := os.MkdirTemp("", "handoff-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", dir, "../../cmd/sockd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sockd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// childClient asks HANDOFF_E2E_SOCK for the listeners of web and prints
// the outcome.
func childClient() int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	files, err := handoff.Listeners(ctx, os.Getenv("HANDOFF_E2E_SOCK"), "web")
	if err != nil {
		fmt.Println("error:", err)
		return 0
	}
	handoff.CloseAll(files)
	fmt.Println("ok", len(files))
	return 0
}

// env is one running sockd.
type env struct {
	t     *testing.T
	work  string // unit files and sockets live here
	rt    string // the runtime directory
	log   string
	cmd   *exec.Cmd
	exit  chan error
	alive bool
}

// startSockd writes the unit files (name → content, $WORK expanded) and
// starts sockd on them; it is stopped when the test ends.
func startSockd(t *testing.T, files map[string]string) *env {
	t.Helper()
	work := t.TempDir()
	e := &env{t: t, work: work, rt: filepath.Join(work, "rt"), log: filepath.Join(work, "sockd.log"), exit: make(chan error, 1)}
	os.Mkdir(filepath.Join(work, "units"), 0o755)
	for name, content := range files {
		content = strings.ReplaceAll(content, "$WORK", work)
		if err := os.WriteFile(filepath.Join(work, "units", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.cmd = exec.Command(filepath.Join(binDir, "sockd"), "--units", filepath.Join(work, "units"), "--runtime-dir", e.rt)
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.alive = true
	go func() { e.exit <- e.cmd.Wait(); logf.Close() }()
	t.Cleanup(e.stop)
	e.waitReady()
	return e
}

// waitReady waits until sockd answers on its control socket and has
// logged "sockd ready", then checks that the handoff socket is there.
func (e *env) waitReady() {
	e.t.Helper()
	sock := filepath.Join(e.rt, control.SocketName)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			if strings.Contains(e.logText(), "sockd ready") {
				if _, err := os.Lstat(e.handoffSock()); err != nil {
					e.t.Fatalf("sockd is ready but serves no handoff socket (is Daemon.ServeHandoff wired into cmd/sockd/serve.go?): %v", err)
				}
				return
			}
		}
		select {
		case err := <-e.exit:
			e.alive = false
			e.t.Fatalf("sockd exited (%v):\n%s", err, e.logText())
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.t.Fatalf("sockd not ready at %s; its log:\n%s", sock, e.logText())
}

func (e *env) handoffSock() string { return filepath.Join(e.rt, daemon.HandoffSocketName) }

func (e *env) logText() string {
	data, _ := os.ReadFile(e.log)
	return string(data)
}

// stop stops sockd and waits for it.
func (e *env) stop() {
	if !e.alive {
		return
	}
	e.alive = false
	e.cmd.Process.Signal(os.Interrupt)
	select {
	case <-e.exit:
	case <-time.After(15 * time.Second):
		e.cmd.Process.Kill()
		<-e.exit
		e.t.Errorf("sockd did not stop on SIGINT; log:\n%s", e.logText())
	}
}

// listeners asks sockd for the listeners of unit.
func (e *env) listeners(unit string) ([]handoff.File, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return handoff.Listeners(ctx, e.handoffSock(), unit)
}

// sockdSockets returns the inodes of the sockets sockd holds open.
func (e *env) sockdSockets() map[uint64]int {
	e.t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", e.cmd.Process.Pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[uint64]int{}
	for _, ent := range ents {
		target, err := os.Readlink(filepath.Join(dir, ent.Name()))
		var ino uint64
		if err == nil {
			if _, err := fmt.Sscanf(target, "socket:[%d]", &ino); err == nil {
				out[ino]++
			}
		}
	}
	return out
}

// copyFile copies the executable from to the new file to, mode 0755.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
