package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// TestPackageFormats: the three packages are what their formats say,
// with every file in them.
func TestPackageFormats(t *testing.T) {
	deb := only(t, "sockd_*_amd64.deb")
	list := run(t, "dpkg-deb", "--contents", deb)
	for _, want := range []string{
		"./usr/sbin/sockd", "./usr/bin/sockctl",
		"./usr/share/man/man8/sockd.8.gz", "./usr/share/man/man1/sockctl.1.gz", "./usr/share/man/man5/sockd.unit.5.gz",
		"./usr/share/bash-completion/completions/sockctl", "./usr/share/zsh/vendor-completions/_sockctl",
		"./usr/share/fish/vendor_completions.d/sockctl.fish",
		"./etc/sockd/units/", "./usr/lib/sockd/units/", "./usr/lib/systemd/system/sockd.service",
		"./usr/share/sockd/runit/sockd/run", "./usr/share/sockd/s6-rc/sockd/run", "./usr/share/doc/sockd/copyright",
	} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf(".deb lacks %s:\n%s", want, list)
		}
	}
	rpm, err := os.ReadFile(only(t, "sockd-*.x86_64.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(rpm, []byte{0xed, 0xab, 0xee, 0xdb}) {
		t.Errorf(".rpm does not start with the RPM lead magic")
	}
	// rpm2cpio (rpm's own reader) unpacks the payload.
	testenv.RequireProgram(t, "rpm2cpio")
	rpmList := run(t, "sh", "-c", `rpm2cpio "$0" | cpio -t --quiet`, only(t, "sockd-*.x86_64.rpm"))
	for _, want := range []string{"./usr/sbin/sockd", "./usr/lib/systemd/system/sockd.service", "./usr/share/man/man5/sockd.unit.5.gz", "./usr/share/zsh/site-functions/_sockctl", "./usr/share/licenses/sockd/LICENSE"} {
		if !strings.Contains(rpmList, want+"\n") {
			t.Errorf(".rpm lacks %s:\n%s", want, rpmList)
		}
	}
	// An .apk is concatenated gzip streams; tar reads the control part.
	apkList := run(t, "tar", "-tzf", only(t, "sockd_*.apk"))
	for _, want := range []string{".PKGINFO", "etc/init.d/sockd", "etc/conf.d/sockd", "usr/sbin/sockd", "usr/share/zsh/site-functions/_sockctl"} {
		if !strings.Contains(apkList, want) {
			t.Errorf(".apk lacks %s:\n%s", want, apkList)
		}
	}
}

// TestDebInstall installs the .deb with dpkg into a new root (dpkg
// --root: the machine's own package database is not touched), then uses
// what it installed: man -w finds the pages, sockd --version says the
// version git describe gives, the bash completion completes sockctl's
// verbs, and dpkg --purge removes every file.
func TestDebInstall(t *testing.T) {
	testenv.RequireRoot(t, "dpkg --root installs files owned by root")
	testenv.RequireProgram(t, "dpkg")
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	run(t, "dpkg", "--root="+root, "--force-script-chrootless", "-i", only(t, "sockd_*_amd64.deb"))
	if out := run(t, "dpkg", "--root="+root, "-s", "sockd"); !strings.Contains(out, "Status: install ok installed") {
		t.Fatalf("dpkg -s sockd:\n%s", out)
	}

	if testenv.RequireProgram(t, "man") != "" {
		for _, page := range [][2]string{{"8", "sockd"}, {"1", "sockctl"}, {"5", "sockd.unit"}} {
			got := strings.TrimSpace(run(t, "man", "-M", filepath.Join(root, "usr/share/man"), "-w", page[0], page[1]))
			if want := filepath.Join(root, "usr/share/man", "man"+page[0], page[1]+"."+page[0]+".gz"); got != want {
				t.Errorf("man -w %s %s = %s; want %s", page[0], page[1], got, want)
			}
		}
		text := run(t, "man", "-M", filepath.Join(root, "usr/share/man"), "5", "sockd.unit")
		for _, want := range []string{"ListenStream", "Accept", "--systemd-units"} {
			if !strings.Contains(text, want) {
				t.Errorf("man 5 sockd.unit does not mention %s", want)
			}
		}
	}

	for _, bin := range []string{"usr/sbin/sockd", "usr/bin/sockctl"} {
		got := strings.TrimSpace(run(t, filepath.Join(root, bin), "--version"))
		if want := filepath.Base(bin) + " " + version + " ("; !strings.HasPrefix(got, want) {
			t.Errorf("%s --version = %q; want %q…", bin, got, want)
		}
	}

	// The completion as bash loads it from its completions directory.
	script := `source "$1"; COMP_WORDS=(sockctl is-en); COMP_CWORD=1; _sockctl; echo "${COMPREPLY[@]}"`
	out, err := exec.Command("bash", "-c", script, "bash", filepath.Join(root, "usr/share/bash-completion/completions/sockctl")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "is-enabled" {
		t.Errorf("bash completion of 'sockctl is-en' = %q, %v; want is-enabled", out, err)
	}

	run(t, "dpkg", "--root="+root, "--force-script-chrootless", "--purge", "sockd")
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/sockd")); err == nil {
		t.Error("dpkg --purge left /usr/sbin/sockd")
	}
}
