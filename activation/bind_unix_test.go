package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

func TestUnixKinds(t *testing.T) {
	dir := t.TempDir()
	kinds := map[units.ListenerKind]int{
		units.Stream: unix.SOCK_STREAM, units.Datagram: unix.SOCK_DGRAM, units.SequentialPacket: unix.SOCK_SEQPACKET,
	}
	for kind, typ := range kinds {
		path := filepath.Join(dir, string(kind)+".sock")
		s := newSocket(pathListener(kind, path))
		s.PassCredentials, s.FreeBind, s.KeepAlive = true, true, true // IP/TCP ones are skipped
		s.ReceiveBuffer = 65536
		l := bind(t, s)[0]
		accepts := 0
		if typ != unix.SOCK_DGRAM {
			accepts = 1
		}
		wantOpts(t, l.Fd(), string(kind), [][3]int{
			{unix.SOL_SOCKET, unix.SO_TYPE, typ},
			{unix.SOL_SOCKET, unix.SO_ACCEPTCONN, accepts},
			{unix.SOL_SOCKET, unix.SO_PASSCRED, 1},
			{unix.SOL_SOCKET, unix.SO_RCVBUF, 131072},
		})
		checkFlags(t, l.Fd(), false)
		sa, err := unix.Getsockname(l.Fd())
		if err != nil || sa.(*unix.SockaddrUnix).Name != path {
			t.Errorf("%s: getsockname = %#v, %v", kind, sa, err)
		}
	}
}

func TestAbstract(t *testing.T) {
	name := fmt.Sprintf("@sockd-test-%d", os.Getpid())
	l := bind(t, newSocket(pathListener(units.Stream, name)))[0]
	sa, err := unix.Getsockname(l.Fd())
	if err != nil || sa.(*unix.SockaddrUnix).Name != name {
		t.Errorf("getsockname = %#v, %v", sa, err)
	}
	c, err := net.Dial("unix", name)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	c.Close()
	if l.node != nil {
		t.Error("an abstract socket got a file system node")
	}
}

func TestUnixModeOwnerDirs(t *testing.T) {
	testenv.RequireRoot(t, "chowns the socket node")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "web.sock")
	s := newSocket(pathListener(units.Stream, path))
	s.SocketMode, s.DirectoryMode = 0o660, 0o751
	s.SocketUser, s.SocketGroup = "65534", "4242"
	bind(t, s)
	checkNode(t, path, os.ModeSocket|0o660, 65534, 4242)
	for _, d := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")} {
		checkNode(t, d, os.ModeDir|0o751, 0, 0)
	}
	checkNode(t, dir, os.ModeDir|0o700, 0, 0) // existing: untouched
}

func TestUnixUserPrimaryGroup(t *testing.T) {
	testenv.RequireRoot(t, "chowns the socket node to root")
	path := filepath.Join(t.TempDir(), "web.sock")
	s := newSocket(pathListener(units.Stream, path))
	s.SocketUser = "root"
	bind(t, s)
	checkNode(t, path, os.ModeSocket|0o666, 0, 0)
	s.SocketUser = "no-such-user-sockd"
	if _, err := Bind("t", s); err == nil || !strings.Contains(err.Error(), "SocketUser=no-such-user-sockd") {
		t.Errorf("unknown user: %v", err)
	}
}

// checkNode checks a path's type, mode and owner.
func checkNode(t *testing.T, path string, mode os.FileMode, uid, gid uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != mode || st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: %v %d:%d, want %v %d:%d", path, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
	}
}

func TestSymlinksAndRemoveOnStop(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "web.sock")
	links := []string{filepath.Join(dir, "l1"), filepath.Join(dir, "x", "y", "l2")}
	for _, remove := range []bool{false, true} {
		s := newSocket(pathListener(units.Stream, path), ipListener(units.Stream, "127.0.0.1", 0))
		s.Symlinks, s.RemoveOnStop = links, remove
		ls, err := Bind("t", s)
		if err != nil {
			t.Fatal(err)
		}
		for _, ln := range links {
			if got, err := os.Readlink(ln); err != nil || got != path {
				t.Errorf("%s -> %q, %v", ln, got, err)
			}
		}
		checkNode(t, filepath.Join(dir, "x", "y"), os.ModeDir|0o755, uint32(os.Geteuid()), uint32(os.Getegid()))
		for _, l := range ls {
			l.Close()
			if err := l.Remove(); err != nil {
				t.Error(err)
			}
		}
		for _, p := range append([]string{path}, links...) {
			_, err := os.Lstat(p)
			if gone := errors.Is(err, os.ErrNotExist); gone != remove {
				t.Errorf("RemoveOnStop=%v: %s removed = %v", remove, p, gone)
			}
		}
	}
}

func TestSymlinkConflicts(t *testing.T) {
	dir := t.TempDir()
	path, ln := filepath.Join(dir, "web.sock"), filepath.Join(dir, "link")
	os.Symlink("/elsewhere", ln)
	s := newSocket(pathListener(units.Stream, path))
	s.Symlinks = []string{ln}
	if _, err := Bind("t", s); err == nil || !strings.Contains(err.Error(), "Symlinks="+ln) {
		t.Fatalf("foreign symlink without RemoveOnStop: %v", err)
	}
	if _, err := os.Lstat(path); err == nil {
		t.Error("the socket node was left behind after the failure")
	}
	s.RemoveOnStop = true // systemd then replaces it
	bind(t, s)
	if got, _ := os.Readlink(ln); got != path {
		t.Errorf("link -> %q", got)
	}
	s.Listeners = append(s.Listeners, pathListener(units.FIFO, filepath.Join(dir, "f")))
	if _, err := Bind("t", s); err == nil {
		t.Error("Symlinks= with two path listeners was accepted")
	}
}

func TestRemoveSparesReplacedNode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	s := newSocket(pathListener(units.Stream, path))
	s.RemoveOnStop = true
	l := bind(t, s)[0]
	l.Close()
	// Move the old node away (keeping its inode, so the new one cannot
	// reuse the number) and bind a new socket at the path.
	os.Rename(path, path+".old")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l.Remove()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Remove deleted a node it did not create: %v", err)
	}
}

func TestLiveSocketRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	for _, kind := range []units.ListenerKind{units.Stream, units.Datagram} {
		_, err = Bind("web", newSocket(pathListener(kind, path)))
		want := "unit web: listen " + path + ": bind: a live socket is at the path: address already in use"
		if !errors.Is(err, unix.EADDRINUSE) || err.Error() != want {
			t.Errorf("%s over a live socket: %v, want %q", kind, err, want)
		}
	}
	if c, err := net.Dial("unix", path); err != nil {
		t.Errorf("the live socket was disturbed: %v", err)
	} else {
		c.Close()
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // leaves a stale node behind
	l := bind(t, newSocket(pathListener(units.Stream, path)))[0]
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	c.Close()
	if ok, _ := Matches(l.Fd(), l.Spec()); !ok {
		t.Error("new socket does not match its spec")
	}
}

func TestNotASocketKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.sock")
	os.WriteFile(path, []byte("data"), 0o644)
	_, err := Bind("t", newSocket(pathListener(units.Stream, path)))
	if !errors.Is(err, unix.EADDRINUSE) || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Bind over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Error("the regular file was removed")
	}
}

func TestPathTooLong(t *testing.T) {
	path := "/tmp/" + strings.Repeat("x", 103) // 108 bytes
	_, err := Bind("t", newSocket(pathListener(units.Stream, path)))
	if !errors.Is(err, unix.ENAMETOOLONG) {
		t.Errorf("108-byte path: %v", err)
	}
	prefix := fmt.Sprintf("/tmp/sockd-%d-", os.Getpid())
	fits := prefix + strings.Repeat("x", 107-len(prefix))
	t.Cleanup(func() { os.Remove(fits) })
	bind(t, newSocket(pathListener(units.Stream, fits)))
	abstract := "@" + strings.Repeat("x", 106)
	bind(t, newSocket(pathListener(units.Stream, abstract)))
	_, err = Bind("t", newSocket(pathListener(units.Stream, abstract+"x")))
	if !errors.Is(err, unix.ENAMETOOLONG) {
		t.Errorf("108-byte abstract name: %v", err)
	}
}

// TestNodeAppearsWithModeZero checks the kernel behaviour the "no looser
// window" rule rests on: bind gives the node the socket inode's mode, so
// after fchmod(fd, 0) the node appears with no permissions at all.
func TestNodeAppearsWithModeZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	checkNode(t, path, os.ModeSocket, uint32(os.Geteuid()), uint32(os.Getegid()))
}
