//go:build cgo && amd64

package spawn

// #include "fastspawn.h"
import "C"

import (
	"fmt"
	"strconv"
	"syscall"

	"github.com/sockd/sockd/units"
)

// fillFastAttrs lays a out for fs_apply_attrs (fastspawn_attrs.c).
func fillFastAttrs(c *C.struct_fs_attrs, a *Attrs, cgroups []string) {
	c.ncgroups = C.int32_t(len(cgroups))
	for i, p := range cgroups {
		for j := 0; j < len(p); j++ {
			c.cgroups[i][j] = C.char(p[j])
		}
	}
	if a == nil {
		return
	}
	if a.OOMScoreAdjust != nil {
		c.flags |= C.FA_OOM
		s := strconv.Itoa(*a.OOMScoreAdjust) // at most "-1000"
		for i := 0; i < len(s); i++ {
			c.oom[i] = C.char(s[i])
		}
		c.oom_len = C.int32_t(len(s))
	}
	if a.Nice != nil {
		c.flags |= C.FA_NICE
		c.nice = C.int32_t(*a.Nice)
	}
	if a.SchedPolicy != nil {
		c.flags |= C.FA_SCHED
		c.sched_policy, c.sched_priority = C.int32_t(*a.SchedPolicy), C.int32_t(a.SchedPriority)
	}
	if a.CPUAffinity != nil {
		c.flags |= C.FA_AFFINITY
		for _, cpu := range a.CPUAffinity {
			c.affinity[cpu/64] |= C.uint64_t(1) << (cpu % 64)
		}
	}
	if a.IOPrio != nil {
		c.flags |= C.FA_IOPRIO
		c.ioprio = C.int32_t(*a.IOPrio)
	}
	if a.Personality != nil {
		c.flags |= C.FA_PERSONALITY
		c.personality = C.uint32_t(*a.Personality)
	}
	for res, l := range a.Limits {
		if l != nil {
			c.rlimit_mask |= 1 << res
			c.rlimits[res] = [2]C.uint64_t{C.uint64_t(l.Soft), C.uint64_t(l.Hard)}
		}
	}
}

// attrsFailure words a failed step of fs_apply_attrs as the shim does, or
// returns nil for a step that is not one of them.
func attrsFailure(a *Attrs, cgroups []string, step int, errno syscall.Errno) error {
	if step >= C.FA_STEP_CGROUP && step < C.FA_STEP_CGROUP+C.FA_CGROUPS && step-C.FA_STEP_CGROUP < len(cgroups) {
		return fmt.Errorf("joining cgroup %s: %w", cgroups[step-C.FA_STEP_CGROUP], errno)
	}
	if a == nil {
		return nil
	}
	switch {
	case step == C.FA_STEP_OOM:
		return fmt.Errorf("writing oom_score_adj %d: %w", *a.OOMScoreAdjust, errno)
	case step == C.FA_STEP_NICE:
		return fmt.Errorf("setpriority %d: %w", *a.Nice, errno)
	case step == C.FA_STEP_SCHED:
		return fmt.Errorf("sched_setscheduler policy %d priority %d: %w", *a.SchedPolicy, a.SchedPriority, errno)
	case step == C.FA_STEP_AFFINITY:
		return fmt.Errorf("sched_setaffinity %v: %w", a.CPUAffinity, errno)
	case step == C.FA_STEP_IOPRIO:
		return fmt.Errorf("ioprio_set %#x: %w", *a.IOPrio, errno)
	case step == C.FA_STEP_PERSONALITY:
		return fmt.Errorf("personality %#x: %w", *a.Personality, errno)
	case step >= C.FA_STEP_RLIMIT && step < C.FA_STEP_RLIMIT+units.NumRlimits:
		res := step - C.FA_STEP_RLIMIT
		l := a.Limits[res]
		return fmt.Errorf("setrlimit RLIMIT_%s %d:%d: %w", units.RlimitNames[res], l.Soft, l.Hard, errno)
	}
	return nil
}

// fastCgroups reports whether the fast path's block has room for the
// cgroup.procs paths.
func fastCgroups(paths []string) bool {
	if len(paths) > C.FA_CGROUPS {
		return false
	}
	for _, p := range paths {
		if len(p) >= C.FA_CGROUP_PATH {
			return false
		}
	}
	return true
}
