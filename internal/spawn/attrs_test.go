package spawn

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// attrReport is what the child saw of its process attributes.
type attrReport struct {
	Limits      [units.NumRlimits][2]uint64
	OOM         int
	Nice        int
	Policy      int // sched_getscheduler, SCHED_RESET_ON_FORK included
	Priority    int
	Affinity    []int
	IOPrio      int
	Personality int
}

func readAttrs() attrReport {
	var a attrReport
	for res := range a.Limits {
		var l unix.Rlimit
		unix.Prlimit(0, res, nil, &l)
		a.Limits[res] = [2]uint64{l.Cur, l.Max}
	}
	b, _ := os.ReadFile("/proc/self/oom_score_adj")
	a.OOM, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	prio, _ := unix.Getpriority(unix.PRIO_PROCESS, 0) // the raw syscall's 20-nice
	a.Nice = 20 - prio
	if attr, err := unix.SchedGetAttr(0, 0); err == nil {
		a.Policy, a.Priority = int(attr.Policy), int(attr.Priority)
		if attr.Flags&unix.SCHED_FLAG_RESET_ON_FORK != 0 {
			a.Policy |= unix.SCHED_RESET_ON_FORK
		}
	}
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		for c := 0; c < len(set)*64; c++ {
			if set.IsSet(c) {
				a.Affinity = append(a.Affinity, c)
			}
		}
	}
	v, _, _ := unix.RawSyscall(unix.SYS_IOPRIO_GET, 1, 0, 0)
	a.IOPrio = int(v)
	p, _, _ := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	a.Personality = int(p)
	return a
}

// TestAttrs: the child sees every process attribute it was given.
func TestAttrs(t *testing.T) { bothPaths(t, testAttrs) }

func testAttrs(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: Personality= and lowering hard limits of others")
	}
	p := &units.Process{
		OOMScoreAdjust: ptrTo(500), Nice: ptrTo(7),
		CPUSchedulingPolicy: "batch", CPUSchedulingResetOnFork: true,
		CPUAffinity:       []int{0},
		IOSchedulingClass: "idle", Personality: "x86",
	}
	p.Limits = map[string]units.Rlimit{"CORE": {Soft: 0, Hard: units.Infinity}, "MEMLOCK": {Soft: 4 << 20, Hard: 4 << 20},
		"NPROC": {Soft: 512, Hard: 1024}}
	_, rep := runReport(t, newReaper(t), &Spec{Attrs: AttrsOf(p)})
	got := rep.Attrs
	if got.OOM != 500 || got.Nice != 7 {
		t.Errorf("oom_score_adj %d, nice %d; want 500 and 7", got.OOM, got.Nice)
	}
	if want := unix.SCHED_BATCH | unix.SCHED_RESET_ON_FORK; got.Policy != want {
		t.Errorf("scheduling policy %#x; want %#x", got.Policy, want)
	}
	if !reflect.DeepEqual(got.Affinity, []int{0}) {
		t.Errorf("affinity %v; want [0]", got.Affinity)
	}
	if want := 3 << 13; got.IOPrio != want {
		t.Errorf("ioprio %#x; want %#x (idle)", got.IOPrio, want)
	}
	if got.Personality != 8 {
		t.Errorf("personality %#x; want PER_LINUX32", got.Personality)
	}
	for res, want := range map[int][2]uint64{
		unix.RLIMIT_CORE: {0, units.Infinity}, unix.RLIMIT_MEMLOCK: {4 << 20, 4 << 20}, unix.RLIMIT_NPROC: {512, 1024},
	} {
		if got.Limits[res] != want {
			t.Errorf("RLIMIT_%s %v; want %v", units.RlimitNames[res], got.Limits[res], want)
		}
	}
}

// TestAttrsClosest: a limit above the hard limit sockd may not raise is
// set as close as it can be, and a negative OOMScoreAdjust= that needs
// CAP_SYS_RESOURCE is skipped, as systemd does, rather than failing the
// start. (With the capability, both are simply set.)
func TestAttrsClosest(t *testing.T) { bothPaths(t, testAttrsClosest) }

func testAttrsClosest(t *testing.T) {
	var hard unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_MEMLOCK, nil, &hard); err != nil {
		t.Fatal(err)
	}
	privileged := hasCap(unix.CAP_SYS_RESOURCE)
	if privileged || hard.Max == unix.RLIM_INFINITY {
		t.Skip("sockd may raise RLIMIT_MEMLOCK here: nothing to clamp")
	}
	p := &units.Process{OOMScoreAdjust: ptrTo(-900)}
	p.Limits = map[string]units.Rlimit{"MEMLOCK": {Soft: units.Infinity, Hard: units.Infinity}}
	_, rep := runReport(t, newReaper(t), &Spec{Attrs: AttrsOf(p)})
	if got := rep.Attrs.Limits[unix.RLIMIT_MEMLOCK]; got != [2]uint64{hard.Max, hard.Max} {
		t.Errorf("RLIMIT_MEMLOCK %v; want the hard limit %d for both", got, hard.Max)
	}
	if rep.Attrs.OOM == -900 {
		t.Errorf("oom_score_adj -900 without CAP_SYS_RESOURCE")
	}
}

func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

// TestAttrsFailures: a failed step exits with systemd's code for it, and
// both paths word it alike.
func TestAttrsFailures(t *testing.T) { bothPaths(t, testAttrsFailures) }

func testAttrsFailures(t *testing.T) {
	r := newReaper(t)
	exe := testBinary(t)
	fifo0, badIO := unix.SCHED_FIFO, 7<<13 // realtime priority 0; no such I/O class
	var limits [units.NumRlimits]*units.Rlimit
	limits[unix.RLIMIT_CORE] = &units.Rlimit{Soft: 10, Hard: 5}
	tests := []struct {
		name  string
		attrs Attrs
		code  int
		msg   string
	}{
		{"sched", Attrs{SchedPolicy: &fifo0}, ExitSetScheduler, "214/SETSCHEDULER: sched_setscheduler policy 1 priority 0: invalid argument"},
		{"ioprio", Attrs{IOPrio: &badIO}, ExitIOPrio, "211/IOPRIO: ioprio_set 0xe000: invalid argument"},
		{"limits", Attrs{Limits: limits}, ExitLimits, "205/LIMITS: setrlimit RLIMIT_CORE 10:5: invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, st := run(t, r, &Spec{Path: exe, Attrs: &tt.attrs, Env: []string{"SPAWN_TEST_CHILD=hello"}})
			err := p.WaitExec()
			var ee *ExecError
			if !errors.As(err, &ee) || ee.Code != tt.code || err.Error() != tt.msg {
				t.Fatalf("WaitExec: %v; want %s", err, tt.msg)
			}
			if !errors.Is(err, syscall.EINVAL) {
				t.Errorf("%v is not EINVAL", err)
			}
			if !st.Wait.Exited() || st.Wait.ExitStatus() != tt.code {
				t.Errorf("exit %v; want %d", st, tt.code)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
