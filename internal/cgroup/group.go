package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// Group is a service's cgroup in every usable hierarchy.
type Group struct {
	dirs []string // the v2 cgroup first, if any
}

// Procs returns the cgroup.procs files the service's process writes "0"
// to, to join the group (spawn.Spec.Cgroups).
func (g *Group) Procs() []string {
	out := make([]string, len(g.dirs))
	for i, d := range g.dirs {
		out[i] = filepath.Join(d, "cgroup.procs")
	}
	return out
}

// New creates (or reuses) the cgroup "sockd.<name>" for a service and
// writes its limits. Delegate= with a uid other than -1 hands the
// cgroup's directory and its procs and subtree files to that user.
func (r *Root) New(name string, res *units.Resources, uid, gid int) (*Group, error) {
	g := &Group{}
	leaf := "sockd." + strings.ReplaceAll(name, "/", "_")
	dirs := []string{}
	if r.v2 != "" {
		dirs = append(dirs, filepath.Join(r.v2, leaf))
	}
	for _, c := range controllers {
		if d, ok := r.v1[c]; ok && !contains(dirs, filepath.Join(d, leaf)) {
			dirs = append(dirs, filepath.Join(d, leaf))
		}
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cgroup %s: %w", d, err)
		}
		g.dirs = append(g.dirs, d)
	}
	for _, w := range r.writes(leaf, res) {
		if err := os.WriteFile(w.path, []byte(w.value), 0); err != nil {
			return g, fmt.Errorf("cgroup: writing %q to %s: %w", w.value, w.path, err)
		}
	}
	if res.Delegate && uid >= 0 {
		for _, d := range g.dirs {
			for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads", "tasks"} {
				if err := os.Chown(filepath.Join(d, f), uid, gid); err != nil && !errors.Is(err, os.ErrNotExist) {
					return g, fmt.Errorf("cgroup: delegating %s: %w", d, err)
				}
			}
		}
	}
	return g, nil
}

type write struct{ path, value string }

// writes lists the files and values for res, each in the hierarchy that
// carries its controller; a controller sockd cannot use is skipped.
func (r *Root) writes(leaf string, res *units.Resources) []write {
	var ws []write
	at := func(c, v2file, v1file, value string) {
		switch {
		case r.v2Controllers[c]:
			ws = append(ws, write{filepath.Join(r.v2, leaf, v2file), value})
		case r.v1[c] != "" && v1file != "":
			ws = append(ws, write{filepath.Join(r.v1[c], leaf, v1file), value})
		}
	}
	if res.TasksMax.Set {
		at("pids", "pids.max", "pids.max", limitValue(res.TasksMax, tasksTotal(), "max"))
	}
	if res.MemoryMax.Set {
		unlimited := "-1" // v1's spelling of no limit
		if r.v2Controllers["memory"] {
			unlimited = "max"
		}
		at("memory", "memory.max", "memory.limit_in_bytes", limitValue(res.MemoryMax, memTotal(), unlimited))
	}
	if res.MemoryHigh.Set {
		at("memory", "memory.high", "", limitValue(res.MemoryHigh, memTotal(), "max"))
	}
	if res.MemoryLow.Set {
		at("memory", "memory.low", "", limitValue(res.MemoryLow, memTotal(), "max"))
	}
	if q := res.CPUQuota; q > 0 {
		const period = 100000 // µs, systemd's default CPUQuotaPeriodSec=
		quota := strconv.Itoa(q * period / 100)
		at("cpu", "cpu.max", "", quota+" "+strconv.Itoa(period))
		if !r.v2Controllers["cpu"] && r.v1["cpu"] != "" {
			ws = append(ws, write{filepath.Join(r.v1["cpu"], leaf, "cpu.cfs_period_us"), strconv.Itoa(period)},
				write{filepath.Join(r.v1["cpu"], leaf, "cpu.cfs_quota_us"), quota})
		}
	}
	if w := res.CPUWeight; w > 0 && r.v2Controllers["cpu"] {
		at("cpu", "cpu.weight", "", strconv.Itoa(w))
	} else if w > 0 {
		at("cpu", "", "cpu.shares", strconv.Itoa(w*1024/100)) // systemd's cgroup_cpu_weight_to_shares
	}
	if w := res.IOWeight; w > 0 && r.v2Controllers["io"] {
		at("io", "io.weight", "", "default "+strconv.Itoa(w))
	} else if w > 0 {
		at("io", "", "blkio.weight", strconv.Itoa(min(max(w*500/100, 10), 1000))) // cgroup_weight_io_to_blkio
	}
	return ws
}

func limitValue(l units.Limit, total uint64, infinity string) string {
	v, ok := l.Resolve(total)
	if !ok {
		return infinity
	}
	return strconv.FormatUint(v, 10)
}

// tasksTotal is what TasksMax=N% is relative to: the smaller of
// kernel.threads-max and kernel.pid_max-1, as in systemd.
func tasksTotal() uint64 {
	read := func(p string) uint64 {
		b, _ := os.ReadFile(p)
		n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	return min(read("/proc/sys/kernel/threads-max"), read("/proc/sys/kernel/pid_max")-1)
}

func memTotal() uint64 {
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	return uint64(si.Totalram) * uint64(si.Unit)
}

// Pids lists the processes in the group.
func (g *Group) Pids() []int {
	if len(g.dirs) == 0 {
		return nil
	}
	b, _ := os.ReadFile(filepath.Join(g.dirs[0], "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// Kill sends sig to every process in the group (KillMode=control-group),
// and SIGCONT after it as systemd does; it returns how many it signalled.
func (g *Group) Kill(sig syscall.Signal) int {
	pids := g.Pids()
	for _, p := range pids {
		unix.Kill(p, sig)
		if sig != syscall.SIGKILL && sig != syscall.SIGCONT {
			unix.Kill(p, syscall.SIGCONT)
		}
	}
	return len(pids)
}

// Remove removes the group's cgroups once they are empty.
func (g *Group) Remove() error {
	var errs []error
	for _, d := range g.dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
