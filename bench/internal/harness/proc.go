package harness

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mono returns CLOCK_MONOTONIC in nanoseconds: the clock tinysvc stamps
// its line with and perf records with -k CLOCK_MONOTONIC.
func Mono() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// ProcStatus returns the fields of /proc/PID/status (or of a task's
// status file, if path names one).
func ProcStatus(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

// Memory is what /proc/PID/status says about a process's memory.
type Memory struct {
	RSSkB, HWMkB int64 // VmRSS, VmHWM
	Threads      int
}

// ReadMemory reads VmRSS, VmHWM and Threads of pid.
func ReadMemory(pid int) (Memory, error) {
	st, err := ProcStatus(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	kB := func(k string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSuffix(st[k], " kB"), 10, 64)
		return n
	}
	th, _ := strconv.Atoi(st["Threads"])
	return Memory{RSSkB: kB("VmRSS"), HWMkB: kB("VmHWM"), Threads: th}, nil
}

// CPUTime returns the user plus system CPU time pid has used so far
// (utime + stime of /proc/PID/stat, in USER_HZ = 100 ticks a second):
// unlike wall time, it hardly changes with the load of a shared machine.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')') // the command may hold spaces
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// CtxSwitches returns, per thread of pid, voluntary plus nonvoluntary
// context switches so far. A thread that blocks and is woken again counts
// one voluntary switch: the difference over an interval counts the
// wake-ups.
func CtxSwitches(pid int) (map[int]uint64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return nil, fmt.Errorf("no tasks for pid %d: %v", pid, err)
	}
	out := map[int]uint64{}
	for _, t := range tasks {
		st, err := ProcStatus(t)
		if err != nil {
			continue // the thread is gone
		}
		tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(t)))
		v, _ := strconv.ParseUint(st["voluntary_ctxt_switches"], 10, 64)
		nv, _ := strconv.ParseUint(st["nonvoluntary_ctxt_switches"], 10, 64)
		out[tid] = v + nv
	}
	return out, nil
}

// SwitchDelta is the change of CtxSwitches between two snapshots: the
// total, and per thread for the threads that switched (threads that
// appeared count from zero).
func SwitchDelta(before, after map[int]uint64) (total uint64, perThread map[int]uint64) {
	perThread = map[int]uint64{}
	for tid, n := range after {
		if d := n - before[tid]; d > 0 {
			perThread[tid] = d
			total += d
		}
	}
	return total, perThread
}
