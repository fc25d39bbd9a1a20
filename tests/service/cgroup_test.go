package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// cgroupFile returns a file of the probe's cgroup in the hierarchy that
// carries controller (v2 first).
func cgroupFile(t *testing.T, r *report, controller, v2file, v1file string) string {
	t.Helper()
	if p, ok := r.Process.Cgroups[""]; ok {
		f := filepath.Join("/sys/fs/cgroup", p, v2file)
		if _, err := os.Stat(f); err == nil {
			return f
		}
		f = filepath.Join("/sys/fs/cgroup/unified", p, v2file)
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	for k, p := range r.Process.Cgroups {
		if strings.Contains(","+k+",", ","+controller+",") {
			return filepath.Join("/sys/fs/cgroup", controller, p, v1file)
		}
	}
	t.Fatalf("the probe is in no %s cgroup: %v", controller, r.Process.Cgroups)
	return ""
}

// TestTasksMax: the service runs in a cgroup of its own whose pids.max is
// TasksMax=, and a process over it cannot fork; MemoryMax= and
// CPUQuota= are in its cgroup too.
func TestTasksMax(t *testing.T) {
	testenv.RequireRoot(t, "cgroups")
	s := start(t, probeUnits("tasks", "-fork 60", []string{"TasksMax=40", "MemoryMax=256M", "CPUQuota=50%", "CPUWeight=50"}))
	r := askReport(t, s, "tasks")
	pidsMax := cgroupFile(t, r, "pids", "pids.max", "pids.max")
	if !strings.HasSuffix(filepath.Dir(pidsMax), "/sockd.tasks.service") {
		t.Errorf("the probe's pids cgroup is %s; want sockd.tasks.service", filepath.Dir(pidsMax))
	}
	if b, err := os.ReadFile(pidsMax); err != nil || strings.TrimSpace(string(b)) != "40" {
		t.Errorf("%s: %q, %v; want 40", pidsMax, b, err)
	}
	f := r.Process.Forks
	if f == nil || f.OK >= f.Tried || !strings.Contains(f.Err, "resource temporarily unavailable") {
		t.Errorf("forks over TasksMax=40: %+v; want some to fail with EAGAIN", f)
	}
	mem := cgroupFile(t, r, "memory", "memory.max", "memory.limit_in_bytes")
	if b, _ := os.ReadFile(mem); strings.TrimSpace(string(b)) != "268435456" {
		t.Errorf("%s: %q; want 268435456", mem, b)
	}
	quota := cgroupFile(t, r, "cpu", "cpu.max", "cpu.cfs_quota_us")
	if b, _ := os.ReadFile(quota); !strings.HasPrefix(strings.TrimSpace(string(b)), "50000") {
		t.Errorf("%s: %q; want 50000 (50%% of 100ms)", quota, b)
	}
	sockctl(t, s, "stop", "tasks.service")
	if _, err := os.Stat(filepath.Dir(pidsMax)); !os.IsNotExist(err) {
		t.Errorf("the service's cgroup is still there after stop: %v", err)
	}
}
