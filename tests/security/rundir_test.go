package security_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
)

// TestForeignRuntimeDirectoryIsRefused is finding 6 of issue 16: a
// runtime directory nobody created first was accepted and chmod'ed but
// stayed nobody's, who then replaced control.sock with a socket of their
// own and captured root's sockctl requests; a symlinked runtime directory
// was followed and its target chmod'ed. Now sockd refuses to start on
// either, says why, and changes nothing.
func TestForeignRuntimeDirectoryIsRefused(t *testing.T) {
	testenv.RequireRoot(t, "creates the runtime directory as nobody")
	parent, err := os.MkdirTemp("", "sockd-rt-") // sticky and world-writable, as /tmp
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	os.Chmod(parent, 0o1777)
	foreign := filepath.Join(parent, "foreign")
	mkdir := exec.Command("/bin/mkdir", "-m", "0777", foreign)
	mkdir.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nogroup, Groups: []uint32{}}}
	if out, err := mkdir.CombinedOutput(); err != nil {
		t.Fatalf("mkdir as nobody: %v %s", err, out)
	}
	link := filepath.Join(parent, "link")
	target := t.TempDir()
	os.Chmod(target, 0o755)
	os.Symlink(target, link)
	units := t.TempDir()

	for _, c := range []struct{ dir, want string }{
		{foreign, "owned by uid 65534"},
		{link, "is a symlink"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sockd"), "--units", units, "--runtime-dir", c.dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut {
			t.Errorf("sockd --runtime-dir %s: %v (started on it); want a refusal\n%s", c.dir, err, out.String())
			continue
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("sockd --runtime-dir %s refused without saying %q:\n%s", c.dir, c.want, out.String())
		}
	}
	for path, want := range map[string]os.FileMode{foreign: 0o777, target: 0o755} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s was changed: %v %v; want mode %v", path, fi.Mode(), err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(foreign, "control.sock")); err == nil {
		t.Errorf("sockd bound its control socket in nobody's directory")
	}
}
