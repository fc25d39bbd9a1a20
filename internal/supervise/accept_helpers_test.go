package supervise

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// The test binary is also the spawn shim of the services these tests
// start (fd-3 instances go through it).
func init() { spawn.RunShimIfRequested() }

// harness is one supervised unit with its own reaper and watcher.
type harness struct {
	t    *testing.T
	dir  string
	log  *testenv.SyncBuffer
	u    *Unit
	stop func() // stops Run and waits for it
}

// loadUnit writes files (name → content, $DIR replaced by the test's
// directory) into dir and loads the unit named name.
func loadUnit(t *testing.T, dir, name string, files map[string]string) *units.Unit {
	t.Helper()
	udir := filepath.Join(dir, "units-"+strings.ReplaceAll(t.Name(), "/", "_"))
	os.MkdirAll(udir, 0o755)
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(udir, f), []byte(strings.ReplaceAll(content, "$DIR", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := unitdir.Load([]string{udir}, units.DefaultSpecifierEnv())
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Units {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("unit %s not loaded from %v", name, files)
	return nil
}

// startUnit binds and runs the unit name defined by files. Everything is
// stopped when the test ends, and then no goroutine may be left.
func startUnit(t *testing.T, name string, files map[string]string) *harness {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last
	h := &harness{t: t, dir: t.TempDir(), log: &testenv.SyncBuffer{}}
	cfg := loadUnit(t, h.dir, name, files)
	ls, err := activation.Bind(name+".socket", &cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := reaper.New(log)
	if err != nil {
		t.Fatal(err)
	}
	w, err := activation.NewWatcher(func(key any) { key.(*Unit).Trigger() })
	if err != nil {
		t.Fatal(err)
	}
	h.u = New(cfg, ls, Deps{Reaper: r, Watcher: w, Log: log, NotifyDir: h.dir})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.u.Run(ctx)
	}()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return; log:\n%s", h.log)
				<-done
			}
			h.u.Close()
			w.Close()
			r.Stop()
		})
	}
	t.Cleanup(h.stop)
	return h
}

// path is a file in the test's directory.
func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

// dialUnix connects to the Unix socket name from an unnamed socket, or
// from one bound to from ("@x" for an abstract name).
func (h *harness) dialUnix(network, name, from string) *net.UnixConn {
	h.t.Helper()
	var laddr *net.UnixAddr
	if from != "" {
		laddr = &net.UnixAddr{Name: from, Net: network}
	}
	c, err := net.DialUnix(network, laddr, &net.UnixAddr{Name: h.path(name), Net: network})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads c to end of file, within 10 s.
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the reply: %v (got %q)", err, b)
	}
	return string(b)
}

// envOf parses the output of env(1).
func envOf(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// waitFor polls cond until it holds, for at most 10 s.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	h.t.Fatalf("never %s; status %+v, instances %+v; log:\n%s", what, h.u.Status(), h.u.Instances(), h.log)
}

// alive reports whether pid exists (and is not a zombie waiting for us:
// the reaper collects those at once).
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }
