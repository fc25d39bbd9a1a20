package activation

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

func TestFIFO(t *testing.T) {
	testenv.RequireRoot(t, "chowns the FIFO")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "d", "in.fifo")
	s := newSocket(pathListener(units.FIFO, path))
	s.SocketMode, s.DirectoryMode, s.SocketGroup = 0o620, 0o710, "4242"
	s.RemoveOnStop = true
	l := bind(t, s)[0]
	checkNode(t, path, os.ModeNamedPipe|0o620, 0, 4242)
	checkNode(t, filepath.Dir(path), os.ModeDir|0o710, 0, 0)
	checkFlags(t, l.Fd(), true) // O_NONBLOCK, as systemd opens it
	fl, _ := unix.FcntlInt(uintptr(l.Fd()), unix.F_GETFL, 0)
	if fl&unix.O_ACCMODE != unix.O_RDWR {
		t.Errorf("FIFO open flags %#x, want O_RDWR", fl)
	}
	// A writer's data shows up on the descriptor.
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	w.Close()
	buf := make([]byte, 4)
	if n, err := unix.Read(l.Fd(), buf); n != 1 || err != nil {
		t.Errorf("read = %d, %v", n, err)
	}
	if ok, err := Matches(l.Fd(), l.Spec()); !ok || err != nil {
		t.Errorf("Matches = %v, %v", ok, err)
	}
	l.Close()
	l.Remove()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RemoveOnStop left %s: %v", path, err)
	}
}

func TestFIFOExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.fifo")
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSocket(pathListener(units.FIFO, path))
	s.SocketMode = 0o600
	l := bind(t, s)[0]
	checkNode(t, path, os.ModeNamedPipe|0o600, uint32(os.Geteuid()), uint32(os.Getegid()))
	if l.node.created {
		t.Error("an existing FIFO counted as created")
	}

	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	_, err := Bind("t", newSocket(pathListener(units.FIFO, file)))
	if !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "not a FIFO") {
		t.Errorf("FIFO over a regular file: %v", err)
	}
	if _, err := os.Lstat(file); err != nil {
		t.Error("the regular file was removed")
	}
}
