package condition

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// firstBoot is true when the system boots for the first time: systemd's
// /run/systemd/first-boot, or else an /etc/machine-id that is missing,
// empty or "uninitialized".
func firstBoot(v string) (bool, error) {
	want, err := units.ParseBool(v)
	if err != nil {
		return false, err
	}
	first := false
	if _, err := os.Stat("/run/systemd/first-boot"); err == nil {
		first = true
	} else if b, err := os.ReadFile("/etc/machine-id"); err != nil || strings.TrimSpace(string(b)) == "" ||
		strings.TrimSpace(string(b)) == "uninitialized" {
		first = true
	}
	return first == want, nil
}

// kernelCommandLine matches a word of /proc/cmdline: "x" matches "x" and
// "x=…", "x=y" only "x=y".
func kernelCommandLine(v string) (bool, error) {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return false, err
	}
	words, err := units.SplitWords(strings.TrimSpace(string(b)), true)
	if err != nil {
		words = strings.Fields(string(b))
	}
	for _, w := range words {
		if w == v || !strings.Contains(v, "=") && strings.HasPrefix(w, v+"=") {
			return true, nil
		}
	}
	return false, nil
}

func unameRelease() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}

// kernelVersion compares the kernel release ("OP VERSION", several
// separated by spaces, all must hold) or matches it as a glob.
func kernelVersion(v string) (bool, error) {
	release := unameRelease()
	for _, expr := range strings.Fields(v) {
		op, want := cutOperator(expr)
		var ok bool
		var err error
		if op == "" {
			ok, err = filepath.Match(want, release)
		} else {
			ok, err = holds(op, versionCompare(release, want))
		}
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// host matches the hostname (a glob) or the machine ID.
func host(v string) (bool, error) {
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && strings.EqualFold(strings.TrimSpace(string(b)), strings.ReplaceAll(v, "-", "")) {
		return true, nil
	}
	name, err := os.Hostname()
	if err != nil {
		return false, err
	}
	return filepath.Match(strings.ToLower(v), strings.ToLower(name))
}

// security checks a security technology by systemd's names.
func security(v string) (bool, error) {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	switch v {
	case "selinux":
		return exists("/sys/fs/selinux/enforce"), nil
	case "apparmor":
		b, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled")
		return strings.HasPrefix(string(b), "Y"), nil
	case "smack":
		return exists("/sys/fs/smackfs"), nil
	case "tomoyo":
		return exists("/sys/kernel/security/tomoyo/version"), nil
	case "ima":
		return exists("/sys/kernel/security/ima"), nil
	case "tpm2":
		es, _ := os.ReadDir("/sys/class/tpmrm")
		return len(es) > 0, nil
	case "audit":
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
		if err != nil {
			return false, nil
		}
		unix.Close(fd)
		return true, nil
	case "uefi-secureboot":
		m, _ := filepath.Glob("/sys/firmware/efi/efivars/SecureBoot-*")
		for _, p := range m {
			if b, err := os.ReadFile(p); err == nil && len(b) == 5 && b[4] == 1 {
				return true, nil
			}
		}
		return false, nil
	case "cvm":
		return false, nil
	}
	return false, fmt.Errorf("unknown security technology %q", v)
}

// capability checks a capability in sockd's bounding set.
func capability(v string) (bool, error) {
	n, ok := capNumbers[strings.ToLower(v)]
	if !ok {
		return false, fmt.Errorf("unknown capability %q", v)
	}
	bnd, err := statusHex("CapBnd")
	if err != nil {
		return false, err
	}
	return bnd&(1<<n) != 0, nil
}

// statusHex reads a hexadecimal field of /proc/self/status.
func statusHex(field string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			var n uint64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &n)
			return n, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// acPower: true when a mains supply is online, or the machine reports
// none (systemd's on_ac_power).
func acPower(v string) (bool, error) {
	want, err := units.ParseBool(v)
	if err != nil {
		return false, err
	}
	es, _ := os.ReadDir("/sys/class/power_supply")
	on, found := false, false
	for _, e := range es {
		dir := filepath.Join("/sys/class/power_supply", e.Name())
		typ, _ := os.ReadFile(filepath.Join(dir, "type"))
		if strings.TrimSpace(string(typ)) != "Mains" {
			continue
		}
		found = true
		online, _ := os.ReadFile(filepath.Join(dir, "online"))
		on = on || strings.TrimSpace(string(online)) == "1"
	}
	return (on || !found) == want, nil
}

// archNames are systemd's names of the architectures Go runs on.
var archNames = map[string]string{"amd64": "x86-64", "386": "x86", "arm64": "arm64", "arm": "arm",
	"ppc64le": "ppc64-le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64-le",
	"loong64": "loongarch64"}

func architecture(v string) (bool, error) {
	native := archNames[runtime.GOARCH]
	return v == native || v == "native", nil
}

func environment(v string) (bool, error) {
	if k, val, ok := strings.Cut(v, "="); ok {
		got, set := os.LookupEnv(k)
		return set && got == val, nil
	}
	_, set := os.LookupEnv(v)
	return set, nil
}
