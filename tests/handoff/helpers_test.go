// Package handoff_test runs the built sockd and takes its units'
// listeners over RUNTIME_DIR/handoff.sock with the handoff package, as an
// outside process would.
package handoff_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockd/sockd/handoff"
	"github.com/sockd/sockd/internal/daemon"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir string

func TestMain(m *testing.M) {
	if os.Getenv("HANDOFF_E2E_CHILD") == "client" {
		os.Exit(childClient())
	}
	e2e.Main(m, &binDir, "../../cmd/sockd")
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
	*e2e.Sockd
	t    *testing.T
	work string // unit files and sockets live here
	rt   string // the runtime directory
}

// startSockd writes the unit files (name → content, $WORK expanded) and
// starts sockd on them, checks that it serves the handoff socket, and
// stops it when the test ends.
func startSockd(t *testing.T, files map[string]string) *env {
	t.Helper()
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd")}, files)
	e := &env{Sockd: s, t: t, work: s.Work, rt: s.RuntimeDir}
	if _, err := os.Lstat(e.handoffSock()); err != nil {
		t.Fatalf("sockd is ready but serves no handoff socket: %v", err)
	}
	return e
}

func (e *env) handoffSock() string { return filepath.Join(e.rt, daemon.HandoffSocketName) }

// listeners asks sockd for the listeners of unit.
func (e *env) listeners(unit string) ([]handoff.File, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return handoff.Listeners(ctx, e.handoffSock(), unit)
}

// sockdSockets returns the inodes of the sockets sockd holds open.
func (e *env) sockdSockets() map[uint64]int {
	e.t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", e.Pid())
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
