package service_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
)

// TestProcessAttributes: the service runs with the Limit*=, OOMScoreAdjust=,
// Nice=, scheduling, CPU affinity, I/O class, Personality= and
// NonBlocking= of its unit, as it sees them itself.
func TestProcessAttributes(t *testing.T) {
	testenv.RequireRoot(t, "Personality= and lowering hard limits")
	s := start(t, probeUnits("attrs", "", []string{
		"LimitCORE=0:infinity", "LimitNPROC=512:1024", "LimitMEMLOCK=4M", "LimitCPU=1h",
		"OOMScoreAdjust=300", "Nice=5", "CPUSchedulingPolicy=batch", "CPUSchedulingResetOnFork=yes",
		"CPUAffinity=0", "IOSchedulingClass=best-effort", "IOSchedulingPriority=6", "Personality=x86",
		"NonBlocking=yes",
	}))
	r := askReport(t, s, "attrs")
	p := r.Process
	for name, want := range map[string][2]uint64{
		"CORE": {0, ^uint64(0)}, "NPROC": {512, 1024}, "MEMLOCK": {4 << 20, 4 << 20}, "CPU": {3600, 3600},
	} {
		if got := p.Limits[name]; got != want {
			t.Errorf("RLIMIT_%s = %v; want %v", name, got, want)
		}
	}
	if p.OOMScoreAdj != 300 || p.Nice != 5 {
		t.Errorf("oom_score_adj %d, nice %d; want 300 and 5", p.OOMScoreAdj, p.Nice)
	}
	if want := 3 | 0x40000000; p.SchedPolicy != want { // SCHED_BATCH | SCHED_RESET_ON_FORK
		t.Errorf("scheduling policy %#x; want %#x", p.SchedPolicy, want)
	}
	if !reflect.DeepEqual(p.Affinity, []int{0}) {
		t.Errorf("CPU affinity %v; want [0]", p.Affinity)
	}
	if want := 2<<13 | 6; p.IOPrio != want {
		t.Errorf("ioprio %#x; want %#x (best-effort 6)", p.IOPrio, want)
	}
	if p.Personality != 8 {
		t.Errorf("personality %#x; want PER_LINUX32", p.Personality)
	}
	if len(r.Passed) != 1 || !r.Passed[0].Nonblock {
		t.Errorf("passed fds %+v; want one, with O_NONBLOCK", r.Passed)
	}
}

// TestProcessAttributeFailure: a step that fails stops the start with
// systemd's exit code, shown by status.
func TestProcessAttributeFailure(t *testing.T) {
	s := start(t, probeUnits("badsched", "", []string{"CPUSchedulingPolicy=fifo", "CPUSchedulingPriority=0"}))
	sockctl(t, s, "start", "badsched.service")
	u := waitStatus(t, s, "badsched.service", func(u control.Unit) bool { return u.LastExit != nil })
	if !strings.Contains(u.LastExit.Text, "214/SETSCHEDULER") {
		t.Errorf("last exit %+v; want 214/SETSCHEDULER", u.LastExit)
	}
	if out, _ := sockctl(t, s, "status", "badsched.service"); !strings.Contains(out, "214/SETSCHEDULER") {
		t.Errorf("status does not show 214/SETSCHEDULER:\n%s", out)
	}
}
