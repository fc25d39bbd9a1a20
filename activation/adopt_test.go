package activation

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

func TestMatches(t *testing.T) {
	dir := t.TempDir()
	specs := []units.Listener{
		ipListener(units.Stream, "127.0.0.1", 0),
		ipListener(units.Datagram, "::1", 0),
		barePort(0),
		pathListener(units.Stream, filepath.Join(dir, "s.sock")),
		pathListener(units.SequentialPacket, "@sockd-adopt-test"),
		pathListener(units.FIFO, filepath.Join(dir, "f")),
	}
	ls := bind(t, newSocket(specs...))
	for i, l := range ls {
		spec := l.Spec()
		if spec.Address.Family == units.FamilyInet || spec.Address.Family == units.FamilyInet6 {
			spec.Address.Port = boundPort(t, l.Fd())
		}
		specs[i] = spec
	}
	for i, l := range ls {
		for j, spec := range specs {
			ok, err := Matches(l.Fd(), spec)
			if err != nil || ok != (i == j) {
				t.Errorf("Matches(listener %d, spec %d = %v) = %v, %v", i, j, spec, ok, err)
			}
		}
	}
	other := specs[0]
	other.Kind = units.Datagram
	if ok, _ := Matches(ls[0].Fd(), other); ok {
		t.Error("a stream socket matched a datagram spec")
	}
	other = specs[0]
	other.Address.Port++
	if ok, _ := Matches(ls[0].Fd(), other); ok {
		t.Error("a socket matched another port")
	}
}

func TestMatchesNotListening(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	spec := ipListener(units.Stream, "127.0.0.1", boundPort(t, fd))
	if ok, err := Matches(fd, spec); ok || err != nil {
		t.Errorf("a bound, not listening socket: Matches = %v, %v", ok, err)
	}
	unix.Listen(fd, 1)
	if ok, err := Matches(fd, spec); !ok || err != nil {
		t.Errorf("once listening: Matches = %v, %v", ok, err)
	}
	if _, err := Matches(-1, spec); err == nil {
		t.Error("a bad descriptor gave no error")
	}
}

func TestBindWithAdopts(t *testing.T) {
	first := bind(t, newSocket(ipListener(units.Stream, "127.0.0.1", 0)))[0]
	inherited, err := unix.Dup(first.Fd())
	if err != nil {
		t.Fatal(err)
	}
	spec := ipListener(units.Stream, "127.0.0.1", boundPort(t, first.Fd()))
	s := newSocket(spec, ipListener(units.Datagram, "127.0.0.1", 0))
	ls, err := BindWith("web.socket", s, func(l units.Listener) int {
		if ok, _ := Matches(inherited, l); ok {
			return inherited
		}
		return -1
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ls[0].Close()
	defer ls[1].Close()
	if ls[0].Fd() != inherited || ls[0].Name != "web.socket" {
		t.Errorf("listener 0: fd %d name %q, want the inherited fd %d", ls[0].Fd(), ls[0].Name, inherited)
	}
	if ls[1].Fd() == inherited || getInt(t, ls[1].Fd(), unix.SOL_SOCKET, unix.SO_TYPE) != unix.SOCK_DGRAM {
		t.Error("listener 1 was not bound afresh")
	}
}

// TestRebindKeepsNode: a listener that Rebind keeps is the same socket,
// its old Listener no longer closes it, and Remove still removes the node
// with RemoveOnStop=, as it would have before (a reload of a unit whose
// listeners changed).
func TestRebindKeepsNode(t *testing.T) {
	dir := t.TempDir()
	kept, added := filepath.Join(dir, "kept.sock"), filepath.Join(dir, "added.sock")
	s := newSocket(pathListener(units.Stream, kept))
	s.RemoveOnStop = true
	old, err := Bind("web.socket", s)
	if err != nil {
		t.Fatal(err)
	}
	fd := old[0].Fd()
	next := newSocket(pathListener(units.Stream, kept), pathListener(units.Stream, added))
	next.RemoveOnStop = true
	ls, err := Rebind("web.socket", next, func(spec units.Listener) *Listener {
		if spec.Address.Path == kept {
			return old[0]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ls[0].Fd() != fd || old[0].Fd() != -1 {
		t.Errorf("kept listener: fd %d, old Listener's fd %d; want %d and -1 (moved)", ls[0].Fd(), old[0].Fd(), fd)
	}
	if err := old[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		t.Fatalf("closing the old Listener closed the kept socket: %v", err)
	}
	for _, l := range ls {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		if err := l.Remove(); err != nil {
			t.Error(err)
		}
	}
	for _, p := range []string{kept, added} {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != unix.ENOENT {
			t.Errorf("lstat %s after Remove: %v; want ENOENT (RemoveOnStop=yes)", p, err)
		}
	}
}
