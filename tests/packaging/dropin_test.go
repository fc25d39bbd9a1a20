package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
)

// TestSystemdUnitsRealPackage runs sockd --systemd-units on Debian's
// rpcbind package as its maintainer scripts left it on this machine
// (.ci/run installs it; policy-rc.d keeps it from starting): postinst's
// deb-systemd-helper enabled rpcbind.socket with a link in
// /etc/systemd/system/sockets.target.wants/. rpcbind is picked because its
// units load in sockd today: openssh-server's ssh.service needs
// RuntimeDirectory= and uuid-runtime's uuidd.service sandboxing
// directives, which sockd refuses until they are implemented.
//
// The test copies that link, as it is, and the package's two unit files
// into a new root, so that disable/mask change nothing on the machine,
// and runs sockd in a network and mount namespace of its own (rpcbind
// listens on port 111 of every address, and on /run/rpcbind.sock).
func TestSystemdUnitsRealPackage(t *testing.T) {
	testenv.RequireRoot(t, "network and mount namespaces, port 111")
	for _, p := range []string{"unshare", "nsenter", "ip", "rpcbind", "rpcinfo"} {
		testenv.RequireProgram(t, p)
	}
	sockctl := filepath.Join(dist, "stage", "sockctl")
	link := "/etc/systemd/system/sockets.target.wants/rpcbind.socket"
	testenv.Require(t, fileExists(link), "rpcbind installed from Debian, which enables rpcbind.socket ("+link+")")
	if out := run(t, sockctl, "is-enabled", "rpcbind.socket"); strings.TrimSpace(out) != "enabled" {
		t.Fatalf("sockctl is-enabled rpcbind.socket on this machine = %q; want enabled (by the package's postinst)", out)
	}

	root := t.TempDir()
	for _, d := range []string{"etc/systemd/system/sockets.target.wants", "lib/systemd/system"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	run(t, "cp", "-P", link, filepath.Join(root, link)) // deb-systemd-helper's symlink, unchanged
	run(t, "cp", "/lib/systemd/system/rpcbind.socket", "/lib/systemd/system/rpcbind.service", filepath.Join(root, "lib/systemd/system"))
	rt := filepath.Join(t.TempDir(), "rt")

	d := startDaemon(t, "unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
		`ip link set lo up && mount -t tmpfs tmpfs /run && exec "$0" "$@"`,
		filepath.Join(dist, "stage", "sockd"), "--systemd-units", "--root", root, "--runtime-dir", rt)
	d.waitFor(`msg="sockd ready" units=1`, 20*time.Second)
	pid := d.cmd.Process.Pid // unshare execs sh, which execs sockd
	ctl := func(args ...string) (string, int) {
		cmd := exec.Command(sockctl, append([]string{"--root", root, "--runtime-dir", rt}, args...)...)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	rpcinfo := func() (string, error) {
		out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "--net", "rpcinfo", "-p", "127.0.0.1").CombinedOutput()
		return string(out), err
	}
	answers := func(step string) {
		t.Helper()
		if out, err := rpcinfo(); err != nil || !strings.Contains(out, "portmapper") {
			t.Fatalf("%s: rpcinfo -p 127.0.0.1 through sockd's listener: %v\n%s", step, err, out)
		}
	}
	closed := func(step string) {
		t.Helper()
		if out, err := rpcinfo(); err == nil {
			t.Fatalf("%s: rpcinfo still answered; want port 111 closed:\n%s", step, out)
		}
	}
	step := func(want int, args ...string) string {
		t.Helper()
		out, code := ctl(args...)
		if code != want {
			t.Fatalf("sockctl %s: exit %d; want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}

	answers("rpcbind.socket enabled by the package")
	out, _ := rpcinfo()
	t.Logf("rpcinfo -p 127.0.0.1 in sockd's network namespace:\n%s", out)
	if out := step(0, "is-active", "rpcbind"); strings.TrimSpace(out) != "active" {
		t.Errorf("is-active rpcbind = %q", out)
	}

	step(0, "disable", "rpcbind.socket")
	step(0, "reload")
	closed("after disable and reload")
	if out, code := ctl("status", "rpcbind"); code != 4 {
		t.Errorf("after disable: sockctl status rpcbind exit %d; want 4 (no such unit)\n%s", code, out)
	}
	if out := step(1, "is-enabled", "rpcbind.socket"); strings.TrimSpace(out) != "disabled" {
		t.Errorf("is-enabled after disable = %q; want disabled", out)
	}

	step(0, "enable", "rpcbind.socket")
	step(0, "reload")
	answers("after enable and reload")

	step(0, "mask", "rpcbind.socket")
	if out := step(1, "is-enabled", "rpcbind.socket"); strings.TrimSpace(out) != "masked" {
		t.Errorf("is-enabled after mask = %q; want masked", out)
	}
	step(0, "reload") // a masked unit never makes a reload refuse
	closed("after mask and reload")
	d.waitFor(`msg="unit masked, left out" unit=rpcbind.socket`, 5*time.Second)
	if out := step(3, "status", "rpcbind"); !strings.Contains(out, "Loaded: masked") { // 3: inactive, as systemctl
		t.Errorf("sockctl status of the masked unit:\n%s\nwant Loaded: masked", out)
	}
	if out := step(3, "is-active", "rpcbind"); strings.TrimSpace(out) != "inactive" {
		t.Errorf("is-active of the masked unit = %q; want inactive (exit 3)", out)
	}
	if out := step(0, "list", "--all"); !strings.Contains(out, "rpcbind.socket") {
		t.Errorf("list --all does not show the masked unit:\n%s", out)
	}

	step(0, "unmask", "rpcbind.socket")
	step(0, "reload")
	answers("after unmask and reload")
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
