package units

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Process holds the process attributes of systemd.exec(5) ("Process
// Properties", "Scheduling") that the child applies before it execs the
// program, with systemd's exit code when one fails.
type Process struct {
	// Limits holds Limit*= by resource name (RlimitNames: "CORE" for
	// LimitCORE=); a missing one inherits sockd's; nil when none is set
	// (a map, which the upgrade state's gob encodes, unlike an array of
	// nil pointers). LimitNOFILE= is Service.LimitNOFILE.
	Limits map[string]Rlimit
	// OOMScoreAdjust is OOMScoreAdjust= (-1000…1000); nil leaves it.
	OOMScoreAdjust *int
	Nice           *int // Nice= (-20…19); nil leaves it
	// CPUSchedulingPolicy is CPUSchedulingPolicy=: "" (unset), "other",
	// "batch", "idle", "fifo" or "rr".
	CPUSchedulingPolicy      string
	CPUSchedulingPriority    *int // CPUSchedulingPriority= (0…99)
	CPUSchedulingResetOnFork bool // CPUSchedulingResetOnFork=
	CPUAffinity              []int
	// IOSchedulingClass is IOSchedulingClass=: "" (unset), "none",
	// "realtime", "best-effort" or "idle".
	IOSchedulingClass    string
	IOSchedulingPriority *int   // IOSchedulingPriority= (0…7)
	Personality          string // Personality=: an architecture name; "" leaves it
	NonBlocking          bool   // NonBlocking=: pass the fds with O_NONBLOCK
}

// NumRlimits is the number of Linux resource limits (RLIMIT_NLIMITS).
const NumRlimits = 16

// RlimitNames are the Limit*= suffixes by Linux resource number
// (RLIMIT_CPU is 0, …, RLIMIT_RTTIME is 15).
var RlimitNames = [NumRlimits]string{"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
	"MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"}

// rlimitUnit says how the value of one Limit*= is written
// (systemd.exec(5) table "Resource limit directives").
func rlimitUnit(name string) func(string) (uint64, error) {
	switch name {
	case "FSIZE", "DATA", "STACK", "CORE", "RSS", "AS", "MEMLOCK", "MSGQUEUE":
		return func(s string) (uint64, error) {
			n, err := ParseSize(s)
			return uint64(n), err
		}
	case "CPU":
		return func(s string) (uint64, error) { return parseRlimitTime(s, time.Second) }
	case "RTTIME":
		return func(s string) (uint64, error) { return parseRlimitTime(s, time.Microsecond) }
	case "NICE":
		return parseRlimitNice
	}
	return func(s string) (uint64, error) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid limit %q, want a number or infinity", s)
		}
		return n, nil
	}
}

// parseRlimitTime parses a time limit in unit: a bare number is in unit
// (seconds for LimitCPU=, µs for LimitRTTIME=), else a time span, rounded
// up to the unit as systemd does.
func parseRlimitTime(s string, unit time.Duration) (uint64, error) {
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, nil
	}
	d, err := ParseTimespan(s)
	if err != nil {
		return 0, err
	}
	return uint64((d + unit - 1) / unit), nil
}

// parseRlimitNice parses LimitNICE=: a nice level with a sign (+19 …
// -20, stored as 20-nice as the kernel wants) or a raw value 0…40.
func parseRlimitNice(s string) (uint64, error) {
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		n, err := parseIntRange(s, -20, 19)
		if err != nil {
			return 0, fmt.Errorf("invalid nice level %q, want -20…+19", s)
		}
		return uint64(20 - n), nil
	}
	n, err := parseIntRange(s, 0, 40)
	if err != nil {
		return 0, fmt.Errorf("invalid nice limit %q, want 0…40 or a signed nice level", s)
	}
	return uint64(n), nil
}

// ParseRlimit parses the value of LimitNAME=: "VALUE" or "SOFT:HARD",
// each a number in the directive's unit or "infinity".
func ParseRlimit(name, v string) (Rlimit, error) {
	parse := rlimitUnit(name)
	one := func(s string) (uint64, error) {
		if s == "infinity" {
			return Infinity, nil
		}
		return parse(s)
	}
	softStr, hardStr, both := strings.Cut(v, ":")
	soft, err := one(softStr)
	if err != nil {
		return Rlimit{}, err
	}
	hard := soft
	if both {
		if hard, err = one(hardStr); err != nil {
			return Rlimit{}, err
		}
	}
	if soft > hard {
		return Rlimit{}, fmt.Errorf("soft limit %s is above the hard limit %s", softStr, hardStr)
	}
	return Rlimit{Soft: soft, Hard: hard}, nil
}

// SchedPolicies maps CPUSchedulingPolicy= names to Linux's SCHED_*.
var SchedPolicies = map[string]int{"other": 0, "fifo": 1, "rr": 2, "batch": 3, "idle": 5}

// IOClasses maps IOSchedulingClass= names to Linux's IOPRIO_CLASS_*.
var IOClasses = map[string]int{"none": 0, "realtime": 1, "best-effort": 2, "idle": 3}

// Personalities returns the Personality= names this host can run and
// their personality(2) values: the native architecture (PER_LINUX) and
// its 32-bit sibling (PER_LINUX32), as systemd allows.
func Personalities() map[string]uint32 {
	switch runtime.GOARCH {
	case "amd64":
		return map[string]uint32{"x86-64": 0, "x86": 8}
	case "arm64":
		return map[string]uint32{"arm64": 0, "arm": 8}
	case "386":
		return map[string]uint32{"x86": 0}
	}
	return map[string]uint32{}
}

// ParseCPUSet parses a CPU list as CPUAffinity= takes it: numbers and
// ranges ("0-3"), separated by commas or whitespace. It returns the CPUs
// sorted, without duplicates.
func ParseCPUSet(v string) ([]int, error) {
	if v == "numa" {
		return nil, errors.New("CPUAffinity=numa is not supported: sockd sets no NUMA policy")
	}
	seen := map[int]bool{}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		lo, hi, isRange := strings.Cut(w, "-")
		a, err := parseIntRange(lo, 0, 8191)
		if err != nil {
			return nil, fmt.Errorf("invalid CPU %q: %w", w, err)
		}
		b := a
		if isRange {
			if b, err = parseIntRange(hi, a, 8191); err != nil {
				return nil, fmt.Errorf("invalid CPU range %q: %w", w, err)
			}
		}
		for c := a; c <= b; c++ {
			seen[int(c)] = true
		}
	}
	cpus := make([]int, 0, len(seen))
	for c := range seen {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	return cpus, nil
}
