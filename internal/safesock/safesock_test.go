package safesock

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.sock")
	l, err := Listen("unix", path, 0o600, -1)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("node = %v, %v; want a socket of mode 0600", fi, err)
	}
	// A live socket is never replaced.
	if _, err := Listen("unix", path, 0o600, -1); err == nil || !strings.Contains(err.Error(), "another sockd is listening") {
		t.Errorf("Listen over a live socket: %v; want refusal", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the socket (temp dir left behind?)", len(ents))
	}
	l.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("Close left the node: %v", err)
	}
}

func TestListenReplacesOnlyStaleSockets(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close() // the node stays, nothing answers
	l, err := Listen("unix", stale, 0o600, -1)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()

	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o644)
	if _, err := Listen("unix", file, 0o600, -1); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v; want refusal", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("the regular file was changed")
	}
}

func TestCloseKeepsAReplacedNode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sock")
	l, err := Listen("unixpacket", path, 0o600, -1)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	os.WriteFile(path, nil, 0o644) // someone else's node now
	l.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Close removed a node that is not its own: %v", err)
	}
}
