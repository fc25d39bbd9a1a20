package upgrade_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// nobody and nogroup are the unprivileged user and group the attacks
// run as.
const nobody, nogroup = 65534, 65534

// evilBinary writes, in a fresh directory owned by nobody, a script
// owned by nobody that records who ran it in dir/out and prints a check
// result that would pass; it returns the script and the out file.
func evilBinary(t *testing.T) (script, out string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	evil := filepath.Join(dir, "x")
	if err := os.Mkdir(evil, 0o755); err != nil {
		t.Fatal(err)
	}
	script, out = filepath.Join(evil, "evil.sh"), filepath.Join(evil, "out")
	body := "#!/bin/sh\nid > " + out + "\necho '{\"ok\":true,\"version\":\"evil\",\"adopted\":0,\"units\":0}'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{evil, script} {
		if err := os.Chown(p, nobody, nogroup); err != nil {
			t.Fatal(err)
		}
	}
	return script, out
}

// publicCopy copies the binary at src to a new directory that anyone
// may traverse, owned by root, with mode; it returns the copy's path.
func publicCopy(t *testing.T, src string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
	return dst
}

// sockctlAs runs sockctl as uid/gid against the runtime directory rt.
func sockctlAs(t *testing.T, uid, gid uint32, rt string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(publicCopy(t, filepath.Join(binDir, "sockctl"), 0o755), args...)
	cmd.Env = []string{"SOCKD_RUNTIME_DIR=" + rt, "NO_COLOR=1", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestUpgradeIsRootOnly reproduces finding 1 of issue 16: sockd runs
// as root with --control-group nogroup, and nobody, a member, asks it
// to upgrade to a script nobody owns. Before the fix the script ran as
// root and replaced sockd. Now the request is refused (403) before
// anything runs: the control group may start, stop, restart and reload,
// never choose the code sockd runs.
func TestUpgradeIsRootOnly(t *testing.T) {
	testenv.RequireRoot(t, "runs sockctl as nobody against a sockd running as root")
	addr := freePort(t)
	s := startSockdWith(t, helloUnits(addr), "--control-group", "65534")
	for _, d := range []string{filepath.Dir(s.Work), s.Work} {
		os.Chmod(d, 0o711) // nobody reaches rt/control.sock (mode 0660, group nogroup)
	}
	script, out := evilBinary(t)

	// A group member may change units…
	if o, err := sockctlAs(t, nobody, nogroup, s.RuntimeDir, "stop", "hello.service"); err != nil {
		t.Fatalf("stop as a member of the control group: %v\n%s", err, o)
	}
	// …but not upgrade.
	o, err := sockctlAs(t, nobody, nogroup, s.RuntimeDir, "upgrade", "--binary", script)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(o, "permission denied") {
		t.Errorf("upgrade as a member of the control group: %v\n%s\nwant a refusal, permission denied", err, o)
	}
	t.Logf("as nobody: %s", strings.TrimSpace(o))
	if data, err := os.ReadFile(out); err == nil {
		t.Errorf("the binary nobody chose ran: %s", data)
	}
	info := daemonInfo(t, s.RuntimeDir)
	if info.PID != s.Pid() || info.Generation != 1 || info.Version != "dev" {
		t.Errorf("after the refused upgrade: %+v; want pid %d, generation 1, version dev", info, s.Pid())
	}
	if !strings.Contains(s.LogText(), "upgrade refused: only root") {
		t.Errorf("the refusal is not logged:\n%s", s.LogText())
	}
}

// TestUpgradeBinaryChecks: root asking is not enough either. A binary
// that someone other than root (or sockd's user) owns or may write, or
// that lies in a directory they may write, is refused before it runs,
// with the reason; sockd goes on unchanged.
func TestUpgradeBinaryChecks(t *testing.T) {
	testenv.RequireRoot(t, "makes files owned by nobody")
	s := startSockd(t, helloUnits(freePort(t)))
	script, out := evilBinary(t)
	good := filepath.Join(bin2Dir, "sockd")
	groupWritable := publicCopy(t, good, 0o775)
	os.Chmod(groupWritable, 0o775) // past the umask
	inNobodysDir := filepath.Join(filepath.Dir(script), "sockd")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inNobodysDir, data, 0o755); err != nil {
		t.Fatal(err)
	}
	nobodysFile := publicCopy(t, good, 0o755)
	if err := os.Chown(nobodysFile, nobody, nogroup); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(filepath.Dir(publicCopy(t, good, 0o755)), "link")
	if err := os.Symlink(script, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, binary, want string }{
		{"owned by nobody", script, "owned by uid 65534"},
		{"a file nobody owns", nobodysFile, "is owned by uid 65534, neither root"},
		{"group-writable", groupWritable, "writable by its group or by others"},
		{"in a directory nobody owns", inNobodysDir, "owned by uid 65534, neither root"},
		{"a link to nobody's binary", link, "owned by uid 65534"},
	} {
		o, err := sockctl(s.RuntimeDir, "upgrade", "--binary", c.binary)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(o, "upgrade refused") || !strings.Contains(o, c.want) {
			t.Errorf("%s: sockctl upgrade: %v\n%s\nwant \"upgrade refused\" naming %q", c.name, err, o, c.want)
		}
		t.Logf("%s: %s", c.name, strings.TrimSpace(o))
	}
	if data, err := os.ReadFile(out); err == nil {
		t.Errorf("a refused binary ran: %s", data)
	}
	if info := daemonInfo(t, s.RuntimeDir); info.PID != s.Pid() || info.Generation != 1 {
		t.Errorf("after the refused upgrades: %+v; want pid %d, generation 1", info, s.Pid())
	}
}
