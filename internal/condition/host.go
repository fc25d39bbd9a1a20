package condition

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// isUser checks sockd's user: a name, a uid or "@system" (uid ≤ 999).
func isUser(v string) (bool, error) {
	uid := os.Getuid()
	if v == "@system" {
		return uid <= 999, nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n == uid, nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return false, nil
	}
	return u.Uid == strconv.Itoa(uid), nil
}

// inGroup checks whether sockd is in a group, by name or gid.
func inGroup(v string) (bool, error) {
	gid, err := strconv.Atoi(v)
	if err != nil {
		g, err := user.LookupGroup(v)
		if err != nil {
			return false, nil
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if gid == os.Getgid() || gid == os.Getegid() {
		return true, nil
	}
	groups, err := os.Getgroups()
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if g == gid {
			return true, nil
		}
	}
	return false, nil
}

// cgroupController checks the controllers (space-separated, all must
// be there) of the cgroup v2 hierarchy, or "v1"/"v2" for its version.
func cgroupController(v string) (bool, error) {
	b, v2err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	for _, want := range strings.Fields(v) {
		switch want {
		case "v2":
			if v2err != nil {
				return false, nil
			}
			continue
		case "v1":
			if v2err == nil {
				return false, nil
			}
			continue
		}
		found := false
		if v2err == nil {
			for _, c := range strings.Fields(string(b)) {
				found = found || c == want
			}
		} else {
			found = cgroupV1Enabled(want)
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

func cgroupV1Enabled(name string) bool {
	b, _ := os.ReadFile("/proc/cgroups")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == name && f[3] == "1" {
			return true
		}
	}
	return false
}

// memory compares the physical memory with a size ("OP SIZE", >= by
// default).
func memory(v string) (bool, error) {
	op, size := cutOperator(v)
	if op == "" {
		op = ">="
	}
	want, err := units.ParseSize(size)
	if err != nil {
		return false, err
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return false, err
	}
	total := uint64(si.Totalram) * uint64(si.Unit)
	return holds(op, sign3(total, uint64(want)))
}

// cpus compares the CPUs sockd may run on with a number (>= by default).
func cpus(v string) (bool, error) {
	op, n := cutOperator(v)
	if op == "" {
		op = ">="
	}
	want, err := strconv.ParseUint(n, 10, 32)
	if err != nil {
		return false, fmt.Errorf("invalid CPU count %q", n)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return false, err
	}
	return holds(op, sign3(uint64(set.Count()), want))
}

func sign3(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cpuFeature looks for a flag of /proc/cpuinfo.
func cpuFeature(v string) (bool, error) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, flags, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" && strings.TrimSpace(k) != "Features" {
			continue
		}
		for _, f := range strings.Fields(flags) {
			if strings.EqualFold(f, v) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, nil
}

// osRelease compares fields of os-release(5): "KEY=VALUE", "KEY!=VALUE"
// (exact) or "KEY>=VERSION" and the like (version order); several
// separated by spaces must all hold.
func osRelease(v string) (bool, error) {
	fields, err := readOSRelease()
	if err != nil {
		return false, err
	}
	for _, expr := range strings.Fields(v) {
		i := strings.IndexAny(expr, "<>=!")
		if i <= 0 {
			return false, fmt.Errorf("invalid expression %q, want KEY OP VALUE", expr)
		}
		op, want := cutOperator(expr[i:])
		got := fields[expr[:i]]
		var ok bool
		switch op {
		case "=":
			ok = got == want
		case "!=":
			ok = got != want
		default:
			if ok, err = holds(op, versionCompare(got, want)); err != nil {
				return false, err
			}
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func readOSRelease() (map[string]string, error) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		if b, err = os.ReadFile("/usr/lib/os-release"); err != nil {
			return nil, err
		}
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			m[k] = strings.Trim(v, `"'`)
		}
	}
	return m, nil
}
