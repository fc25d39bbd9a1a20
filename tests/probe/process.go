package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Process is what the probe saw of its process attributes, directories
// and cgroup: what systemd.exec(5) and systemd.resource-control(5)
// settings gave it.
type Process struct {
	// Limits maps RLIMIT_* names ("NOFILE") to [soft, hard].
	Limits      map[string][2]uint64 `json:"limits"`
	OOMScoreAdj int                  `json:"oom_score_adj"`
	Nice        int                  `json:"nice"`
	// SchedPolicy is sched_getscheduler(2)'s result: SCHED_RESET_ON_FORK
	// (0x40000000) or'ed in.
	SchedPolicy   int   `json:"sched_policy"`
	SchedPriority int   `json:"sched_priority"`
	Affinity      []int `json:"cpu_affinity"`
	IOPrio        int   `json:"ioprio"`
	Personality   int   `json:"personality"`
	Umask         int   `json:"umask"`
	// Cgroup is the probe's cgroup v2 path (the "0::" line of
	// /proc/self/cgroup), "" without one.
	Cgroup string `json:"cgroup"`
	// Dirs describes every directory the *_DIRECTORY variables name.
	Dirs map[string]DirInfo `json:"dirs"`
	// WatchdogUsec is what sd_watchdog_enabled(3) (go-systemd's
	// SdWatchdogEnabled) says: 0 unless WATCHDOG_USEC is set and
	// WATCHDOG_PID, if set, is the probe's pid.
	WatchdogUsec int64 `json:"watchdog_usec"`
	// Cgroups maps each hierarchy of /proc/self/cgroup ("pids",
	// "memory", "" for v2, …) to the probe's cgroup in it.
	Cgroups map[string]string `json:"cgroups"`
	// Forks is what -fork N saw: how many of N child processes started,
	// and the first error.
	Forks *Forks `json:"forks,omitempty"`
}

// Forks is the outcome of -fork.
type Forks struct {
	Tried int    `json:"tried"`
	OK    int    `json:"ok"`
	Err   string `json:"err,omitempty"`
}

// tryForks starts n sleeping children, counts those that started, and
// kills them.
func tryForks(n int) *Forks {
	f := &Forks{Tried: n}
	var cmds []*exec.Cmd
	for i := 0; i < n; i++ {
		c := exec.Command("/bin/sleep", "30")
		if err := c.Start(); err != nil {
			if f.Err == "" {
				f.Err = err.Error()
			}
			continue
		}
		f.OK++
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		c.Process.Kill()
		c.Wait()
	}
	return f
}

func watchdogUsec() int64 {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return -1
	}
	return d.Microseconds()
}

// watchdogBeats sends WATCHDOG=1 every half interval, n times (n < 0:
// forever), then records DIR/watchdog-stopped-PID and stays silent.
func watchdogBeats(dir string, pid int, usec int64, n int) {
	every := time.Duration(usec) * time.Microsecond / 2
	for i := 0; n < 0 || i < n; i++ {
		daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		time.Sleep(every)
	}
	writeFile(filepath.Join(dir, fmt.Sprintf("watchdog-stopped-%d", pid)), []byte("stopped\n"))
	fmt.Fprintf(os.Stderr, "probe: pid %d stopped sending WATCHDOG=1\n", pid)
}

// DirInfo is one directory as the probe found it.
type DirInfo struct {
	Exists bool   `json:"exists"`
	Mode   uint32 `json:"mode"` // permission bits, setgid and sticky included
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
}

var rlimitNames = []string{"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
	"MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"}

func readProcess() *Process {
	p := &Process{Limits: map[string][2]uint64{}, Dirs: map[string]DirInfo{}}
	for res, name := range rlimitNames {
		var l unix.Rlimit
		if unix.Prlimit(0, res, nil, &l) == nil {
			p.Limits[name] = [2]uint64{l.Cur, l.Max}
		}
	}
	b, _ := os.ReadFile("/proc/self/oom_score_adj")
	p.OOMScoreAdj, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	prio, _ := unix.Getpriority(unix.PRIO_PROCESS, 0) // the raw system call's 20-nice
	p.Nice = 20 - prio
	policy, _, _ := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, 0, 0, 0)
	p.SchedPolicy = int(policy)
	var param [1]int32
	unix.RawSyscall(unix.SYS_SCHED_GETPARAM, 0, uintptr(unsafe.Pointer(&param)), 0)
	p.SchedPriority = int(param[0])
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		for c := 0; c < len(set)*64; c++ {
			if set.IsSet(c) {
				p.Affinity = append(p.Affinity, c)
			}
		}
	}
	io, _, _ := unix.RawSyscall(unix.SYS_IOPRIO_GET, 1, 0, 0)
	p.IOPrio = int(io)
	persona, _, _ := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	p.Personality = int(persona)
	p.Umask = syscall.Umask(0)
	syscall.Umask(p.Umask)
	p.Cgroups = map[string]string{}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.SplitN(line, ":", 3); len(f) == 3 {
				p.Cgroups[f[1]] = f[2]
			}
			if path, ok := strings.CutPrefix(line, "0::"); ok {
				p.Cgroup = path
			}
		}
	}
	for _, v := range []string{"RUNTIME_DIRECTORY", "STATE_DIRECTORY", "CACHE_DIRECTORY", "LOGS_DIRECTORY", "CONFIGURATION_DIRECTORY"} {
		for _, dir := range strings.Split(os.Getenv(v), ":") {
			if dir != "" {
				p.Dirs[dir] = dirInfo(dir)
			}
		}
	}
	return p
}

func dirInfo(path string) DirInfo {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return DirInfo{}
	}
	return DirInfo{Exists: true, Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}
}
