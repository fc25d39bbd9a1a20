package sandbox

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/sockd/sockd/units"
)

// MountOp is what one mount step establishes at Mount.Path.
type MountOp string

// The mount steps, in the priority order systemd's namespace.c gives
// them when two name the same path (the first one wins).
const (
	OpInaccessible MountOp = "inaccessible" // a mode-0 node or an empty mode-0 directory
	OpBind         MountOp = "bind"         // Src bound onto Path
	OpPrivateTmp   MountOp = "privatetmp"   // a private directory on /tmp or /var/tmp
	OpPrivateDev   MountOp = "privatedev"   // a minimal /dev
	OpProc         MountOp = "proc"         // a new procfs with Data (ProtectProc=, ProcSubset=)
	OpReadOnly     MountOp = "ro"           // read-only, recursively
	OpReadWrite    MountOp = "rw"           // left writable under a read-only parent
	OpTmpfs        MountOp = "tmpfs"        // a new tmpfs with Data
	OpImplicitRW   MountOp = "rw-implicit"  // /proc, /sys, /dev under ProtectSystem=strict
)

var opPriority = map[MountOp]int{OpInaccessible: 0, OpBind: 1, OpPrivateTmp: 2, OpPrivateDev: 3, OpProc: 4,
	OpReadOnly: 5, OpReadWrite: 6, OpTmpfs: 7, OpImplicitRW: 8}

// Mount is one step of the mount plan.
type Mount struct {
	Op       MountOp `json:"op"`
	Path     string  `json:"path"`
	Src      string  `json:"src,omitempty"`
	Data     string  `json:"data,omitempty"`
	ReadOnly bool    `json:"ro,omitempty"`    // made read-only once every step is established
	NoRec    bool    `json:"norec,omitempty"` // bind without submounts; read-only on this mount only
	Optional bool    `json:"opt,omitempty"`   // a missing path is skipped
}

// ProtectSystem's tables (namespace.c, with Debian's split-usr /bin,
// /sbin, /lib and /lib64).
var (
	protectSystemYes  = []string{"/usr", "-/boot", "-/efi", "-/bin", "-/sbin", "-/lib", "-/lib64"}
	protectSystemFull = append(append([]string{}, protectSystemYes...), "/etc")
	protectHomePaths  = []string{"-/home", "-/run/user", "-/root"}
	kernelTunablesRO  = []string{"-/proc/acpi", "-/proc/apm", "-/proc/asound", "-/proc/bus", "-/proc/fs",
		"-/proc/irq", "-/proc/latency_stats", "-/proc/mtrr", "-/proc/scsi", "-/proc/sys", "-/proc/sysrq-trigger",
		"-/proc/timer_stats", "-/sys", "-/sys/fs/bpf", "-/sys/kernel/debug", "-/sys/kernel/tracing"}
	kernelTunablesNone = []string{"-/proc/kallsyms", "-/proc/kcore"}
	kernelTunablesRW   = []string{"-/sys/fs/cgroup", "-/sys/fs/selinux"}
	kernelModulesNone  = []string{"-/usr/lib/modules", "-/lib/modules"}
	kernelLogsNone     = []string{"-/proc/kmsg", "-/dev/kmsg"}
)

// mountPlan collects the mount steps of s, sorted and deduplicated as
// systemd's setup_namespace() does (mount_path_compare, drop_duplicates,
// drop_inaccessible).
func mountPlan(s *units.Sandbox, rw []string) ([]Mount, error) {
	var ms []Mount
	add := func(op MountOp, list ...string) {
		for _, p := range list {
			p, opt := strings.CutPrefix(p, "-")
			ms = append(ms, Mount{Op: op, Path: p, Optional: opt, ReadOnly: op == OpReadOnly || op == OpInaccessible})
		}
	}
	for _, e := range s.ReadWritePaths {
		ms = append(ms, Mount{Op: OpReadWrite, Path: e.Path, Optional: e.Optional})
	}
	for _, e := range s.ReadOnlyPaths {
		ms = append(ms, Mount{Op: OpReadOnly, Path: e.Path, Optional: e.Optional, ReadOnly: true})
	}
	for _, e := range s.InaccessiblePaths {
		ms = append(ms, Mount{Op: OpInaccessible, Path: e.Path, Optional: e.Optional, ReadOnly: true})
	}
	for _, b := range s.BindPaths {
		ms = append(ms, Mount{Op: OpBind, Path: b.Dest, Src: b.Source, Optional: b.Optional, ReadOnly: b.ReadOnly, NoRec: b.NonRecursive})
	}
	for _, t := range s.TemporaryFileSystem {
		ms = append(ms, Mount{Op: OpTmpfs, Path: t.Path, Data: "mode=0755,size=10%,nr_inodes=400k," + t.Options,
			ReadOnly: hasOption(t.Options, "ro")})
	}
	add(OpReadWrite, rw...)
	switch s.ProtectSystem {
	case "yes":
		add(OpReadOnly, protectSystemYes...)
	case "full":
		add(OpReadOnly, protectSystemFull...)
	case "strict":
		add(OpReadOnly, "/")
		add(OpImplicitRW, "/proc", "/sys", "/dev")
	}
	switch s.ProtectHome {
	case "yes":
		add(OpInaccessible, protectHomePaths...)
	case "read-only":
		add(OpReadOnly, protectHomePaths...)
	case "tmpfs":
		for _, p := range protectHomePaths {
			mode := "0755"
			if p == "-/root" {
				mode = "0700"
			}
			ms = append(ms, Mount{Op: OpTmpfs, Path: p[1:], Optional: true, ReadOnly: true,
				Data: "mode=" + mode + ",size=4m,nr_inodes=1k"})
		}
	}
	if s.PrivateTmp {
		ms = append(ms, Mount{Op: OpPrivateTmp, Path: "/tmp"}, Mount{Op: OpPrivateTmp, Path: "/var/tmp"})
	}
	if s.PrivateDevices {
		ms = append(ms, Mount{Op: OpPrivateDev, Path: "/dev", ReadOnly: true, NoRec: true})
	}
	if s.ProtectKernelTunables {
		add(OpReadOnly, kernelTunablesRO...)
		add(OpInaccessible, kernelTunablesNone...)
		add(OpImplicitRW, kernelTunablesRW...)
	}
	if s.ProtectKernelModules {
		add(OpInaccessible, kernelModulesNone...)
	}
	if s.ProtectKernelLogs {
		add(OpInaccessible, kernelLogsNone...)
	}
	if s.ProtectControlGroups {
		add(OpReadOnly, "-/sys/fs/cgroup")
	}
	if s.ProtectHostname {
		add(OpReadOnly, "-/proc/sys/kernel/hostname", "-/proc/sys/kernel/domainname")
	}
	if s.ProtectProc != "" || s.ProcSubset != "" {
		var opts []string
		if s.ProtectProc != "" {
			opts = append(opts, "hidepid="+s.ProtectProc)
		}
		if s.ProcSubset != "" {
			opts = append(opts, "subset="+s.ProcSubset)
		}
		ms = append(ms, Mount{Op: OpProc, Path: "/proc", Data: strings.Join(opts, ",")})
	}
	if err := checkConflicts(s); err != nil {
		return nil, err
	}
	return normalize(ms), nil
}

func hasOption(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// checkConflicts refuses a path that is both writable and read-only or
// inaccessible by the unit's own lists: systemd would silently keep the
// more restrictive one, which is never what the writer meant.
func checkConflicts(s *units.Sandbox) error {
	rw := map[string]bool{}
	for _, e := range s.ReadWritePaths {
		rw[e.Path] = true
	}
	for _, l := range [][]units.PathEntry{s.ReadOnlyPaths, s.InaccessiblePaths} {
		for _, e := range l {
			if rw[e.Path] {
				return fmt.Errorf("path %s is in ReadWritePaths= and in ReadOnlyPaths= or InaccessiblePaths=", e.Path)
			}
		}
	}
	return nil
}

// normalize sorts ms parents first (then by priority), merges entries of
// the same path into the first (most restrictive) one, and drops entries
// below an inaccessible path.
func normalize(ms []Mount) []Mount {
	for i := range ms {
		ms[i].Path = path.Clean(ms[i].Path)
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i].Path, ms[j].Path
		if a != b {
			return pathLess(a, b)
		}
		return opPriority[ms[i].Op] < opPriority[ms[j].Op]
	})
	var out []Mount
	for _, m := range ms {
		if n := len(out); n > 0 && out[n-1].Path == m.Path {
			out[n-1].ReadOnly = out[n-1].ReadOnly || m.ReadOnly
			out[n-1].Optional = out[n-1].Optional && m.Optional
			continue
		}
		hidden := false
		for _, o := range out {
			if o.Op == OpInaccessible && under(m.Path, o.Path) {
				hidden = true
			}
		}
		if !hidden {
			out = append(out, m)
		}
	}
	return out
}

// pathLess orders paths component by component, so that a parent comes
// before its children.
func pathLess(a, b string) bool {
	ca, cb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ca) && i < len(cb); i++ {
		if ca[i] != cb[i] {
			return ca[i] < cb[i]
		}
	}
	return len(ca) < len(cb)
}

// under reports whether p is strictly below dir.
func under(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}
