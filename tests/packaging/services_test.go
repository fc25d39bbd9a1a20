package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
)

// extractDeb unpacks the .deb's files (dpkg-deb -x) into a new directory.
func extractDeb(t *testing.T) string {
	t.Helper()
	testenv.RequireProgram(t, "dpkg-deb")
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", only(t, "sockd_*_amd64.deb"), root)
	return root
}

// TestSystemdServiceVerifies checks sockd.service with systemd's own
// verifier on the unpacked package: no unknown key, no bad value, the
// commands exist.
func TestSystemdServiceVerifies(t *testing.T) {
	analyze := testenv.RequireProgram(t, "systemd-analyze")
	root := extractDeb(t)
	out, err := exec.Command(analyze, "verify", "--man=no", "--recursive-errors=no", "--root="+root,
		"/usr/lib/systemd/system/sockd.service").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify sockd.service: %v\n%s", err, out)
	}
	unit, _ := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/sockd.service"))
	if !strings.Contains(string(unit), "\nType=notify\n") {
		t.Errorf("sockd.service is not Type=notify:\n%s", unit)
	}
}

// TestShellServiceScripts: the OpenRC, runit and s6-rc scripts parse as
// shell (TestOpenRCScript runs OpenRC's own openrc-run on the first).
func TestShellServiceScripts(t *testing.T) {
	root := extractDeb(t)
	apkRoot := t.TempDir()
	run(t, "tar", "-xzf", only(t, "sockd_*.apk"), "-C", apkRoot)
	for _, p := range []string{
		filepath.Join(apkRoot, "etc/init.d/sockd"), filepath.Join(apkRoot, "etc/conf.d/sockd"),
		filepath.Join(root, "usr/share/sockd/runit/sockd/run"), filepath.Join(root, "usr/share/sockd/s6-rc/sockd/run"),
	} {
		run(t, "sh", "-n", p)
	}
	if typ, _ := os.ReadFile(filepath.Join(root, "usr/share/sockd/s6-rc/sockd/type")); string(typ) != "longrun\n" {
		t.Errorf("s6-rc type = %q; want longrun", typ)
	}
}

// TestOpenRCScript has OpenRC's openrc-run read the .apk's init script
// ("describe" sources it through openrc-run.sh, as a start would).
// Debian's openrc package conflicts with sysv-rc, so it is not installed:
// .ci/run downloads the .debs of openrc, librc1 and libeinfo1 into
// $SOCKD_OPENRC_DEBS, and the test unpacks them and lays their /lib/rc
// over /usr/lib in a mount namespace of its own.
func TestOpenRCScript(t *testing.T) {
	testenv.RequireRoot(t, "a mount namespace with an overlay on /usr/lib")
	testenv.RequireProgram(t, "unshare")
	debs := os.Getenv("SOCKD_OPENRC_DEBS")
	testenv.Require(t, debs != "", "SOCKD_OPENRC_DEBS: a directory with Debian's openrc, librc1 and libeinfo1 .debs (.ci/run downloads them)")
	orc := t.TempDir()
	for _, pkg := range []string{"openrc", "librc1", "libeinfo1"} {
		matches, _ := filepath.Glob(filepath.Join(debs, pkg+"_*.deb"))
		if len(matches) == 0 {
			t.Fatalf("no %s_*.deb in %s", pkg, debs)
		}
		run(t, "dpkg-deb", "-x", matches[0], orc)
	}
	apkRoot := t.TempDir()
	run(t, "tar", "-xzf", only(t, "sockd_*.apk"), "-C", apkRoot)
	script := `mount -t overlay overlay -o "lowerdir=$0/lib:/usr/lib" /usr/lib &&
		LD_LIBRARY_PATH="$0/lib/x86_64-linux-gnu" "$0/sbin/openrc-run" "$1" describe`
	initd := filepath.Join(apkRoot, "etc/init.d/sockd")
	out := run(t, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, orc, initd)
	for _, want := range []string{"* socket-activation supervisor", "* reload: re-read the units (sockctl reload)"} {
		if !strings.Contains(out, want) {
			t.Errorf("openrc-run sockd describe does not say %q:\n%s", want, out)
		}
	}
	// openrc-run.sh names the script in what the shell says about it
	// ("…/sockd: 4: Syntax error: …"), yet still exits 0.
	if strings.Contains(out, initd+":") {
		t.Errorf("openrc-run reports an error in the script:\n%s", out)
	}
}

// TestRunitService runs the packaged runit service directory under
// runit's runsv: sockd starts and serves, `sv down` stops it cleanly.
func TestRunitService(t *testing.T) {
	testenv.RequireProgram(t, "runsv")
	sv := testenv.RequireProgram(t, "sv")
	root := extractDeb(t)
	dir := t.TempDir()
	svdir, units, rt := filepath.Join(dir, "sockd"), filepath.Join(dir, "units"), filepath.Join(dir, "rt")
	os.MkdirAll(svdir, 0o755)
	os.MkdirAll(units, 0o755)
	run(t, "cp", filepath.Join(root, "usr/share/sockd/runit/sockd/run"), svdir+"/run")
	conf := "SOCKD=" + filepath.Join(root, "usr/sbin/sockd") + "\nSOCKD_OPTS='--units " + units + " --runtime-dir " + rt + "'\n"
	if err := os.WriteFile(filepath.Join(svdir, "conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	runsv := exec.Command("runsv", svdir)
	out, err := runsv.StdoutPipe() // the run script sends sockd's log here
	if err != nil {
		t.Fatal(err)
	}
	if err := runsv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- runsv.Wait() }()
	t.Cleanup(func() {
		exec.Command(sv, "exit", svdir).Run()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			runsv.Process.Kill()
			<-exited
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	waitLine(t, lines, `msg="sockd ready"`, 20*time.Second)
	if got := run(t, sv, "status", svdir); !strings.HasPrefix(got, "run: ") {
		t.Errorf("sv status = %q; want run: …", got)
	}
	run(t, filepath.Join(root, "usr/bin/sockctl"), "--runtime-dir", rt, "list")
	// sv -w waits until runsv reports the service down.
	if got := run(t, sv, "-w", "20", "down", svdir); !strings.HasPrefix(got, "ok: down: ") {
		t.Errorf("sv down = %q; want ok: down: …", got)
	}
	waitLine(t, lines, `msg=stopping`, 5*time.Second)
}

// waitLine waits for a line containing want.
func waitLine(t *testing.T, lines <-chan string, want string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within %v", want, d)
		}
	}
}
