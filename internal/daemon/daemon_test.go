package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/internal/supervise"
)

func TestMain(m *testing.M) {
	spawn.RunShimIfRequested() // a service started through the shim
	goleak.VerifyTestMain(m)
}

// readySignal is a slog handler that closes ready when the daemon logs
// "sockd ready", and passes every record on to the test's log.
type readySignal struct {
	slog.Handler
	once  *sync.Once
	ready chan struct{}
}

func (h readySignal) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "sockd ready" {
		h.once.Do(func() { close(h.ready) })
	}
	return h.Handler.Handle(ctx, r)
}

func (h readySignal) WithAttrs(as []slog.Attr) slog.Handler {
	return readySignal{h.Handler.WithAttrs(as), h.once, h.ready}
}

func (h readySignal) WithGroup(name string) slog.Handler {
	return readySignal{h.Handler.WithGroup(name), h.once, h.ready}
}

// testLogWriter writes the daemon's log through t.Log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// testDaemon is a Daemon on a unit directory of the test's, run by
// startDaemon until stop.
type testDaemon struct {
	*Daemon
	units  string // the unit directory
	cancel context.CancelFunc
	done   chan error
}

// startDaemon loads the units of dir, runs the daemon and returns once it
// logged that it is ready. The test's cleanup stops it.
func startDaemon(t *testing.T, dir string) *testDaemon {
	t.Helper()
	ready := make(chan struct{})
	h := readySignal{slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}), &sync.Once{}, ready}
	d, err := New(Config{UnitDirs: []string{dir}, RuntimeDir: filepath.Join(t.TempDir(), "run"), Log: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	d.Load()
	ctx, cancel := context.WithCancel(context.Background())
	td := &testDaemon{Daemon: d, units: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { td.done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-td.done:
		t.Fatalf("Run returned before it was ready: %v", err)
	}
	t.Cleanup(func() { td.stop(t) })
	return td
}

// stop stops the daemon and waits for Run to return; stopping twice is a
// no-op.
func (td *testDaemon) stop(t *testing.T) {
	t.Helper()
	if td.cancel == nil {
		return
	}
	td.cancel()
	td.cancel = nil
	if err := <-td.done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// unit returns the supervisor of the loaded unit name, or nil.
func (td *testDaemon) unit(name string) *supervise.Unit {
	for _, u := range td.Units() {
		if u.Name() == name {
			return u
		}
	}
	return nil
}

// reload reloads the daemon and fails the test on an error.
func (td *testDaemon) reload(t *testing.T) {
	t.Helper()
	if err := td.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
}

// writeUnit writes the files of a systemd unit pair into dir.
func writeUnit(t *testing.T, dir, name, socket, service string) {
	t.Helper()
	for file, body := range map[string]string{name + ".socket": socket, name + ".service": service} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// socketUnit is a .socket with a ListenStream= line per path.
func socketUnit(removeOnStop bool, paths ...string) string {
	s := "[Socket]\n"
	for _, p := range paths {
		s += "ListenStream=" + p + "\n"
	}
	if removeOnStop {
		s += "RemoveOnStop=yes\n"
	}
	return s
}

const sleepService = "[Service]\nExecStart=/bin/sleep 1000\n"

// inodeOf returns the inode of the socket behind fd.
func inodeOf(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat %d: %v", fd, err)
	}
	return st.Ino
}

// listenerInodes returns the socket inodes of a unit's listeners, by
// address.
func listenerInodes(t *testing.T, u *supervise.Unit) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, l := range u.Listeners() {
		out[l.Spec().Address.String()] = inodeOf(t, l.Fd())
	}
	return out
}

// mustConnect connects to the Unix socket at path.
func mustConnect(t *testing.T, path string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("connect %s: %v", path, err)
	}
	c.Close()
}

// refused checks that nothing listens on path any more.
func refused(t *testing.T, path string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
		t.Fatalf("connect %s: still listening", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("connect %s: %v; want ECONNREFUSED or ENOENT", path, err)
	}
}

// exists reports whether path names a file.
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestLoad: the valid units are bound and listening, an invalid one is
// left out with its problem, and the others do not suffer from it.
func TestLoad(t *testing.T) {
	dir, socks := t.TempDir(), t.TempDir()
	a, b := filepath.Join(socks, "a.sock"), filepath.Join(socks, "b.sock")
	writeUnit(t, dir, "a", socketUnit(false, a), sleepService)
	writeUnit(t, dir, "b", socketUnit(false, b), sleepService)
	writeUnit(t, dir, "bad", "[Socket]\nListenStream=\nBacklog=many\n", sleepService)
	td := startDaemon(t, dir)
	if n := len(td.Units()); n != 2 {
		t.Fatalf("%d units loaded; want 2 (a, b)", n)
	}
	for _, name := range []string{"a", "b"} {
		if st := td.unit(name).Status().State; st != supervise.StateListening {
			t.Errorf("unit %s: state %s; want %s", name, st, supervise.StateListening)
		}
	}
	mustConnect(t, a)
	mustConnect(t, b)
	errs := td.Invalid()["bad"]
	if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "bad.socket:") {
		t.Errorf("Invalid()[bad] = %q; want the problems of bad.socket", errs)
	}
}

// TestReloadKeep: a reload that changes nothing bound into the listeners
// keeps their sockets and the running service.
func TestReloadKeep(t *testing.T) {
	dir, socks := t.TempDir(), t.TempDir()
	a := filepath.Join(socks, "a.sock")
	writeUnit(t, dir, "a", socketUnit(true, a), sleepService)
	td := startDaemon(t, dir)
	u := td.unit("a")
	if err := u.Do(context.Background(), supervise.OpStart); err != nil {
		t.Fatal(err)
	}
	pid := u.Status().MainPID
	before := listenerInodes(t, u)
	writeUnit(t, dir, "a", "[Unit]\nDescription=kept\n"+socketUnit(true, a), "[Unit]\nDescription=kept too\n"+sleepService)
	td.reload(t)
	u = td.unit("a")
	if after := listenerInodes(t, u); after[a] != before[a] {
		t.Errorf("listener %s: socket inode %d after the reload; want %d, the socket kept", a, after[a], before[a])
	}
	if got := u.Status().MainPID; pid == 0 || got != pid {
		t.Errorf("main pid %d after the reload; want %d, the service kept running", got, pid)
	}
	mustConnect(t, a)
}

// TestReloadChange: a reload that adds a listener to a unit keeps the
// socket of the one that did not change, binds the new one and closes
// and removes the one that went away.
func TestReloadChange(t *testing.T) {
	dir, socks := t.TempDir(), t.TempDir()
	kept, gone, added := filepath.Join(socks, "kept.sock"), filepath.Join(socks, "gone.sock"), filepath.Join(socks, "added.sock")
	writeUnit(t, dir, "a", socketUnit(true, kept, gone), sleepService)
	td := startDaemon(t, dir)
	before := listenerInodes(t, td.unit("a"))
	writeUnit(t, dir, "a", socketUnit(true, kept, added), sleepService)
	td.reload(t)
	after := listenerInodes(t, td.unit("a"))
	if after[kept] != before[kept] {
		t.Errorf("listener %s: socket inode %d after the reload; want %d, the socket kept", kept, after[kept], before[kept])
	}
	if _, ok := after[added]; !ok || len(after) != 2 {
		t.Errorf("listeners after the reload: %v; want %s and %s", after, kept, added)
	}
	mustConnect(t, kept)
	mustConnect(t, added)
	refused(t, gone)
	if exists(t, gone) {
		t.Errorf("%s still exists; RemoveOnStop=yes removes the node of a listener a reload closes", gone)
	}
}

// TestReloadRemove: a reload without a unit's files stops it and closes
// its listeners (removing their nodes with RemoveOnStop=yes only), and
// leaves the other units alone.
func TestReloadRemove(t *testing.T) {
	dir, socks := t.TempDir(), t.TempDir()
	a, b, c := filepath.Join(socks, "a.sock"), filepath.Join(socks, "b.sock"), filepath.Join(socks, "c.sock")
	writeUnit(t, dir, "a", socketUnit(true, a), sleepService)
	writeUnit(t, dir, "b", socketUnit(false, b), sleepService)
	writeUnit(t, dir, "c", socketUnit(false, c), sleepService)
	td := startDaemon(t, dir)
	cBefore := listenerInodes(t, td.unit("c"))
	for _, name := range []string{"a", "b"} {
		for _, ext := range []string{".socket", ".service"} {
			if err := os.Remove(filepath.Join(dir, name+ext)); err != nil {
				t.Fatal(err)
			}
		}
	}
	td.reload(t)
	if td.unit("a") != nil || td.unit("b") != nil {
		t.Errorf("units a and b still loaded after their files were removed")
	}
	refused(t, a)
	refused(t, b)
	if exists(t, a) {
		t.Errorf("%s still exists with RemoveOnStop=yes", a)
	}
	if !exists(t, b) {
		t.Errorf("%s was removed with RemoveOnStop=no", b)
	}
	if got := listenerInodes(t, td.unit("c")); got[c] != cBefore[c] {
		t.Errorf("unit c: socket inode %d after the reload; want %d", got[c], cBefore[c])
	}
	mustConnect(t, c)
}

// TestStop: when Run's context ends, every service is stopped, every
// listener closed, and the nodes of RemoveOnStop=yes units removed.
func TestStop(t *testing.T) {
	dir, socks := t.TempDir(), t.TempDir()
	a, b := filepath.Join(socks, "a.sock"), filepath.Join(socks, "b.sock")
	writeUnit(t, dir, "a", socketUnit(true, a), sleepService)
	writeUnit(t, dir, "b", socketUnit(false, b), sleepService)
	td := startDaemon(t, dir)
	u := td.unit("a")
	if err := u.Do(context.Background(), supervise.OpStart); err != nil {
		t.Fatal(err)
	}
	pid := u.Status().MainPID
	td.stop(t)
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) after the stop: %v; want ESRCH, the service stopped and reaped", pid, err)
	}
	refused(t, a)
	refused(t, b)
	if exists(t, a) {
		t.Errorf("%s still exists after the stop with RemoveOnStop=yes", a)
	}
	if !exists(t, b) {
		t.Errorf("%s was removed with RemoveOnStop=no", b)
	}
	if err := td.Reload(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Reload after the stop: %v; want ErrNotRunning", err)
	}
}

// TestRemoveOnStopAfterReload: a listener that a reload kept is still
// sockd's to remove: RemoveOnStop=yes removes its node when the unit
// stops, as it would have before the reload.
func TestRemoveOnStopAfterReload(t *testing.T) {
	dir, socks := t.TempDir(), t.TempDir()
	kept, other := filepath.Join(socks, "kept.sock"), filepath.Join(socks, "other.sock")
	writeUnit(t, dir, "a", socketUnit(true, kept), sleepService)
	td := startDaemon(t, dir)
	// A changed set of listeners, which keeps kept.sock's socket.
	writeUnit(t, dir, "a", socketUnit(true, kept, other), sleepService)
	td.reload(t)
	if err := td.StopSocket("a"); err != nil {
		t.Fatal(err)
	}
	refused(t, kept)
	for _, p := range []string{kept, other} {
		if exists(t, p) {
			t.Errorf("%s still exists after the socket stopped with RemoveOnStop=yes", p)
		}
	}
}
