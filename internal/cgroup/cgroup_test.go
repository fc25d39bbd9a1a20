package cgroup

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

// fakeHierarchies writes a /proc/self/cgroup and a mountinfo describing a
// hybrid layout whose hierarchies are directories under a temp dir: v2
// without controllers, and v1 pids, memory and cpu,cpuacct.
func fakeHierarchies(t *testing.T) (root, cgroupFile, mountinfo string) {
	root = t.TempDir()
	for _, d := range []string{"unified", "pids/own", "memory/own", "cpu,cpuacct/own"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cgroupFile = filepath.Join(root, "cgroup")
	os.WriteFile(cgroupFile, []byte("4:pids:/own\n3:memory:/own\n2:cpu,cpuacct:/own\n0::/\n"), 0o644)
	mountinfo = filepath.Join(root, "mountinfo")
	var mi strings.Builder
	for i, m := range []struct{ dir, fs, opts string }{
		{"unified", "cgroup2", "rw"}, {"pids", "cgroup", "rw,pids"}, {"memory", "cgroup", "rw,memory"},
		{"cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"}, {"tmp", "tmpfs", "rw"},
	} {
		mi.WriteString(strings.Join([]string{"30", "20", "0:" + string(rune('a'+i)), "/", filepath.Join(root, m.dir),
			"rw,relatime", "shared:1", "-", m.fs, m.fs, m.opts}, " ") + "\n")
	}
	os.WriteFile(mountinfo, []byte(mi.String()), 0o644)
	return root, cgroupFile, mountinfo
}

// TestDetectHybrid: the v2 hierarchy without controllers tracks, the v1
// hierarchies carry the limits, and io (no blkio mount) is missing.
func TestDetectHybrid(t *testing.T) {
	root, cg, mi := fakeHierarchies(t)
	r, err := Detect(cg, mi)
	if err != nil {
		t.Fatal(err)
	}
	if r.v2 != filepath.Join(root, "unified") {
		t.Errorf("v2 %q", r.v2)
	}
	want := map[string]string{"pids": filepath.Join(root, "pids/own"), "memory": filepath.Join(root, "memory/own"),
		"cpu": filepath.Join(root, "cpu,cpuacct/own")}
	if !reflect.DeepEqual(r.v1, want) || !reflect.DeepEqual(r.Missing, []string{"io"}) {
		t.Errorf("v1 %v, missing %v; want %v and [io]", r.v1, r.Missing, want)
	}
	res := &units.Resources{TasksMax: units.Limit{Set: true, Value: 40}, MemoryMax: units.Limit{Set: true, Infinity: true},
		CPUQuota: 20, CPUWeight: 200, IOWeight: 300}
	var got []string
	for _, w := range r.writes("sockd.web.service", res) {
		got = append(got, strings.TrimPrefix(w.path, root+"/")+"="+w.value)
	}
	wantW := []string{
		"pids/own/sockd.web.service/pids.max=40",
		"memory/own/sockd.web.service/memory.limit_in_bytes=-1",
		"cpu,cpuacct/own/sockd.web.service/cpu.cfs_period_us=100000",
		"cpu,cpuacct/own/sockd.web.service/cpu.cfs_quota_us=20000",
		"cpu,cpuacct/own/sockd.web.service/cpu.shares=2048",
	}
	if !reflect.DeepEqual(got, wantW) {
		t.Errorf("writes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantW, "\n"))
	}
}
