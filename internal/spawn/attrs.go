package spawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// Attrs are the process attributes of systemd.exec(5) that the child
// applies before it drops privileges, in the order of systemd's
// exec_child: OOMScoreAdjust= (206/OOM_ADJUST), Nice= (201/NICE),
// CPUSchedulingPolicy= and its siblings (214/SETSCHEDULER), CPUAffinity=
// (215/CPUAFFINITY), IOSchedulingClass= (211/IOPRIO), Personality=
// (230/PERSONALITY), then the Limit*= resource limits (205/LIMITS). Both
// the fast path and the shim apply them; a nil field leaves the
// attribute as sockd has it.
type Attrs struct {
	Limits         [units.NumRlimits]*units.Rlimit `json:"l,omitempty"`
	OOMScoreAdjust *int                            `json:"o,omitempty"`
	Nice           *int                            `json:"n,omitempty"`
	// SchedPolicy is a SCHED_* policy, with SCHED_RESET_ON_FORK or'ed in
	// for CPUSchedulingResetOnFork=; SchedPriority its priority.
	SchedPolicy   *int  `json:"sp,omitempty"`
	SchedPriority int   `json:"spr,omitempty"`
	CPUAffinity   []int `json:"a,omitempty"`
	// IOPrio is the ioprio_set(2) value: class << 13 | data.
	IOPrio      *int    `json:"io,omitempty"`
	Personality *uint32 `json:"p,omitempty"`
}

// AttrsOf returns the Attrs for a service's settings, nil if it sets
// none of them.
func AttrsOf(p *units.Process) *Attrs {
	a := &Attrs{OOMScoreAdjust: p.OOMScoreAdjust, Nice: p.Nice, CPUAffinity: p.CPUAffinity}
	for res, name := range units.RlimitNames {
		if l, ok := p.Limits[name]; ok {
			a.Limits[res] = &l
		}
	}
	if p.CPUSchedulingPolicy != "" || p.CPUSchedulingPriority != nil || p.CPUSchedulingResetOnFork {
		policy := units.SchedPolicies[p.CPUSchedulingPolicy] // "" is other
		if p.CPUSchedulingPriority != nil {
			a.SchedPriority = *p.CPUSchedulingPriority
		}
		if p.CPUSchedulingResetOnFork {
			policy |= unix.SCHED_RESET_ON_FORK
		}
		a.SchedPolicy = &policy
	}
	if p.IOSchedulingClass != "" || p.IOSchedulingPriority != nil {
		a.IOPrio = ioprioOf(p.IOSchedulingClass, p.IOSchedulingPriority)
	}
	if p.Personality != "" {
		persona := units.Personalities()[p.Personality]
		a.Personality = &persona
	}
	if a.empty() {
		return nil
	}
	return a
}

// ioprioOf returns the ioprio value for IOSchedulingClass= and
// IOSchedulingPriority=, as systemd normalises them: no class (or "none")
// is best-effort, the priority defaults to 4, and idle has none.
func ioprioOf(class string, prio *int) *int {
	c := units.IOClasses[class]
	if c == 0 {
		c = units.IOClasses["best-effort"]
	}
	data := 4
	if prio != nil {
		data = *prio
	}
	if c == units.IOClasses["idle"] {
		data = 0
	}
	v := c<<13 | data
	return &v
}

func (a *Attrs) empty() bool {
	for _, l := range a.Limits {
		if l != nil {
			return false
		}
	}
	return a.OOMScoreAdjust == nil && a.Nice == nil && a.SchedPolicy == nil && a.CPUAffinity == nil &&
		a.IOPrio == nil && a.Personality == nil
}

func (a *Attrs) encode() string {
	b, _ := json.Marshal(a) // plain data: cannot fail
	return string(b)
}

func decodeAttrs(s string) (*Attrs, error) {
	var a Attrs
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("decoding the process attributes: %w", err)
	}
	return &a, nil
}

// apply sets the attributes on the calling thread, which must be the one
// that calls execve (the shim locks it): nice, the scheduler, the
// affinity and the I/O priority are per thread, and execve keeps them.
func (a *Attrs) apply() (int, error) {
	if a.OOMScoreAdjust != nil {
		err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*a.OOMScoreAdjust)), 0)
		// systemd ignores a lack of privilege here (set_oom_score_adjust).
		if err != nil && !errorsIsPerm(err) {
			return ExitOOMAdjust, fmt.Errorf("writing oom_score_adj %d: %w", *a.OOMScoreAdjust, err)
		}
	}
	if a.Nice != nil {
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, *a.Nice); err != nil {
			return ExitNice, fmt.Errorf("setpriority %d: %w", *a.Nice, err)
		}
	}
	if a.SchedPolicy != nil {
		param := [1]int32{int32(a.SchedPriority)}
		if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, uintptr(*a.SchedPolicy), uintptr(unsafe.Pointer(&param))); e != 0 {
			return ExitSetScheduler, fmt.Errorf("sched_setscheduler policy %d priority %d: %w", *a.SchedPolicy, a.SchedPriority, e)
		}
	}
	if a.CPUAffinity != nil {
		if err := setAffinity(a.CPUAffinity); err != nil {
			return ExitCPUAffinity, err
		}
	}
	if a.IOPrio != nil {
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, 1 /* IOPRIO_WHO_PROCESS */, 0, uintptr(*a.IOPrio)); e != 0 {
			return ExitIOPrio, fmt.Errorf("ioprio_set %#x: %w", *a.IOPrio, e)
		}
	}
	if a.Personality != nil {
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(*a.Personality), 0, 0); e != 0 {
			return ExitPersonality, fmt.Errorf("personality %#x: %w", *a.Personality, e)
		}
	}
	return 0, nil
}

// setLimits applies Limit*= the way systemd's setrlimit_closest does:
// when raising a limit is not permitted, it is set as close as the
// current hard limit allows.
func (a *Attrs) setLimits() (int, error) {
	for res, l := range a.Limits {
		if l == nil {
			continue
		}
		if err := setRlimitClosest(res, *l); err != nil {
			return ExitLimits, fmt.Errorf("setrlimit RLIMIT_%s %d:%d: %w", units.RlimitNames[res], l.Soft, l.Hard, err)
		}
	}
	return 0, nil
}

func setRlimitClosest(res int, l units.Rlimit) error {
	want := unix.Rlimit{Cur: l.Soft, Max: l.Hard}
	err := unix.Prlimit(0, res, &want, nil)
	if err != syscall.EPERM {
		return err
	}
	var cur unix.Rlimit
	if err := unix.Prlimit(0, res, nil, &cur); err != nil {
		return err
	}
	want.Cur, want.Max = min(want.Cur, cur.Max), min(want.Max, cur.Max)
	return unix.Prlimit(0, res, &want, nil)
}

func setAffinity(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		if c >= len(set)*64 {
			return fmt.Errorf("sched_setaffinity: CPU %d: %w", c, syscall.EINVAL)
		}
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity %v: %w", cpus, err)
	}
	return nil
}

func errorsIsPerm(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}
