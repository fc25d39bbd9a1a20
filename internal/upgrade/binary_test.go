package upgrade

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// copyProgram copies the program name (looked up in PATH) to path.
func copyProgram(t *testing.T, name, path string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(testenv.RequireProgram(t, name))
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestBinarySwappedAfterOpen: the file a Binary executes is the one
// that was opened and checked, even when another file is renamed over
// its path afterwards.
func TestBinarySwappedAfterOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sockd")
	copyProgram(t, "true", path, 0o755)
	b, err := OpenBinary(path, os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	copyProgram(t, "false", path, 0o755)
	if err := exec.Command(b.ExecPath()).Run(); err != nil {
		t.Errorf("running the opened binary after the swap: %v; want the opened file (true) to run", err)
	}
	if err := exec.Command(path).Run(); err == nil {
		t.Errorf("the path itself still runs true: the swap did not happen")
	}
}

// TestOpenBinaryRefuses: a binary that others may replace is refused,
// with why.
func TestOpenBinaryRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	copyProgram(t, "true", good, 0o755)
	writable := filepath.Join(dir, "writable")
	copyProgram(t, "true", writable, 0o757)
	notExec := filepath.Join(dir, "data")
	copyProgram(t, "true", notExec, 0o644)
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	inOpen := filepath.Join(open, "sockd")
	copyProgram(t, "true", inOpen, 0o755)
	for _, c := range []struct{ path, want string }{
		{"relative", "not an absolute path"},
		{writable, "writable by its group or by others"},
		{notExec, "not executable"},
		{dir, "not a regular file"},
		{inOpen, "is writable by its group or by others (mode 0777) and not sticky"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		b, err := OpenBinary(c.path, os.Getuid())
		if err == nil {
			b.Close()
			t.Errorf("OpenBinary(%s): accepted; want an error naming %q", c.path, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenBinary(%s): %v; want it to say %q", c.path, err, c.want)
		}
	}
	b, err := OpenBinary(good, os.Getuid())
	if err != nil {
		t.Fatalf("OpenBinary(%s): %v", good, err)
	}
	b.Close()
}
