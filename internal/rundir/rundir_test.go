package rundir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	old := unix.Umask(0o777) // sockd sets the mode it wants whatever the umask
	defer unix.Umask(old)
	path := filepath.Join(t.TempDir(), "a", "sockd")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if m := mode(t, path); m != os.ModeDir|0o700 {
		t.Errorf("mode %v; want drwx------", m)
	}
	// At reaches the open directory, and OpenFile never follows a symlink.
	f, err := os.Create(d.At("x"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(path, "x")); err != nil {
		t.Errorf("At did not reach the directory: %v", err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	os.Symlink(victim, filepath.Join(path, "control.sock.lock"))
	if _, err := d.OpenFile("control.sock.lock", os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		t.Error("OpenFile followed a symlink")
	}
	if _, err := os.Lstat(victim); err == nil {
		t.Error("a file was created where the symlink pointed")
	}
	if err := d.AllowGroup(4242); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != os.ModeDir|0o710 {
		t.Errorf("mode after AllowGroup %v; want drwx--x---", m)
	}
	d.Close()
	// Reopened, it is left as it is until the new owner decides.
	d2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if m := mode(t, path); m != os.ModeDir|0o710 {
		t.Errorf("mode after reopening %v; want drwx--x--- still", m)
	}
	if err := d2.Private(); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != os.ModeDir|0o700 {
		t.Errorf("mode after Private %v; want drwx------", m)
	}
}

// TestOpenRefuses: a symlink, a directory with a looser mode, and a parent
// writable by others without the sticky bit are refused, and left as
// they were.
func TestOpenRefuses(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	os.Mkdir(target, 0o755)
	link := filepath.Join(base, "link")
	os.Symlink(target, link)
	loose := filepath.Join(base, "loose")
	os.Mkdir(loose, 0o755)
	os.Chmod(loose, 0o755)
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	for _, c := range []struct{ path, want string }{
		{link, "is a symlink"},
		{loose, "mode 0755"},
		{filepath.Join(open, "sockd"), "writable by other users and not sticky"},
		{"relative/sockd", "not an absolute path"},
	} {
		d, err := Open(c.path)
		if err == nil {
			d.Close()
			t.Errorf("Open(%s) succeeded", c.path)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s): %v; want an error saying %q", c.path, err, c.want)
		}
	}
	if m := mode(t, target); m != os.ModeDir|0o755 {
		t.Errorf("the symlink's target was changed to %v", m)
	}
	if m := mode(t, loose); m != os.ModeDir|0o755 {
		t.Errorf("the refused directory was changed to %v", m)
	}
}

// TestOpenRefusesForeignDirectory is finding 6 of issue 16: a runtime
// directory that nobody created first was accepted (and chmod'ed) while
// nobody kept it, and so could replace control.sock. The directory is
// made by a real unprivileged process (the test binary as nobody), in a
// sticky world-writable parent as /tmp is.
func TestOpenRefusesForeignDirectory(t *testing.T) {
	testenv.RequireRoot(t, "creates the directory as nobody")
	parent, err := os.MkdirTemp("", "sockd-rundir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	os.Chmod(parent, 0o1777)
	path := filepath.Join(parent, "sockd")
	cmd := exec.Command("/bin/mkdir", "-m", "0700", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkdir as nobody: %v %s", err, out)
	}
	d, err := Open(path)
	if err == nil {
		d.Close()
		t.Fatal("Open accepted a runtime directory nobody created")
	}
	if !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("error %v; want it to name the owner", err)
	}
	var st unix.Stat_t
	unix.Stat(path, &st)
	if st.Uid != 65534 || st.Mode&0o777 != 0o700 {
		t.Errorf("the refused directory was changed: uid %d mode %o", st.Uid, st.Mode&0o777)
	}
}
