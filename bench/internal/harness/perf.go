package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Perf records the scheduler's fork and exec tracepoints system-wide with
// CLOCK_MONOTONIC time stamps, so that an activation can be split into
// the manager's reaction, the exec of the shim, the shim's work and the
// service's start.
type Perf struct {
	proc *Proc
	data string
}

// PerfAvailable reports whether perf can record the sched tracepoints.
func PerfAvailable(perf string) bool {
	if _, err := exec.LookPath(perf); err != nil {
		return false
	}
	out, err := exec.Command(perf, "list", "sched:sched_process_exec").CombinedOutput()
	return err == nil && bytes.Contains(out, []byte("sched_process_exec"))
}

// StartPerf starts perf record -a into dir/perf.data.
func StartPerf(perf, dir string) (*Perf, error) {
	data := filepath.Join(dir, "perf.data")
	p, err := StartProc(filepath.Join(dir, "perf.log"), perf, "record", "-a", "-q", "-k", "CLOCK_MONOTONIC",
		"-e", "sched:sched_process_fork", "-e", "sched:sched_process_exec", "-o", data)
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // perf opens its events on every CPU
	if err := p.Alive(); err != nil {
		return nil, err
	}
	return &Perf{proc: p, data: data}, nil
}

// Event is one tracepoint hit.
type Event struct {
	Time   int64 // CLOCK_MONOTONIC ns
	Name   string
	Fields map[string]string
}

// Stop ends the recording and returns the events.
func (p *Perf) Stop(perf string) ([]Event, error) {
	p.proc.Cmd.Process.Signal(syscall.SIGINT)
	// perf record re-raises the SIGINT it handled once the data is
	// written, so it ends "killed by SIGINT" on success.
	if err := p.proc.Wait(30 * time.Second); err != nil && !killedBy(err, syscall.SIGINT) {
		return nil, fmt.Errorf("perf record: %v", err)
	}
	p.proc.Log.Close()
	out, err := exec.Command(perf, "script", "-i", p.data, "--ns", "-F", "time,event,trace").Output()
	if err != nil {
		return nil, fmt.Errorf("perf script: %v", err)
	}
	return parsePerf(out), nil
}

func killedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// parsePerf parses lines like
// "1394.476106680: sched:sched_process_exec: filename=/usr/bin/sleep pid=8861 old_pid=8861".
func parsePerf(out []byte) []Event {
	var evs []Event
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		ts, rest, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		name, trace, ok := strings.Cut(rest, ": ")
		if !ok {
			continue
		}
		sec, frac, _ := strings.Cut(ts, ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		ev := Event{Time: s*1e9 + ns, Name: strings.TrimSpace(name), Fields: map[string]string{}}
		for _, kv := range strings.Fields(trace) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				ev.Fields[k] = v
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// Phases of one activation, from the client's connect(2) to its first
// byte, split at the fork and exec tracepoints of the service's pid and
// at the service's own main time stamp. A phase that does not apply (no
// fork, no shim) is zero.
type Phases struct {
	ToFork    time.Duration // connect → fork of the shim (manager's reaction)
	ForkExec  time.Duration // fork → exec of the shim done (/proc/self/exe)
	Shim      time.Duration // shim exec done → service exec done
	ToExec    time.Duration // connect → service exec done (no shim: the manager execs itself)
	SvcInit   time.Duration // service exec done → service main (runtime start-up)
	SvcServe  time.Duration // service main → first byte at the client
	Total     time.Duration
	ShimFound bool
}

// SplitPhases finds the events of s.Pid. service is the service's path
// as exec'ed.
func SplitPhases(evs []Event, s Sample, service string) (Phases, error) {
	pid := strconv.Itoa(s.Pid)
	var fork, shim, svc int64
	for _, ev := range evs {
		if ev.Time < s.Connect || ev.Time > s.FirstByte {
			continue
		}
		switch ev.Name {
		case "sched:sched_process_fork":
			if ev.Fields["child_pid"] == pid {
				fork = ev.Time
			}
		case "sched:sched_process_exec":
			if ev.Fields["pid"] != pid {
				continue
			}
			if ev.Fields["filename"] == service {
				svc = ev.Time
			} else if shim == 0 {
				shim = ev.Time
			}
		}
	}
	if svc == 0 {
		return Phases{}, fmt.Errorf("no exec of %s for pid %d", service, s.Pid)
	}
	ph := Phases{
		ToExec:   time.Duration(svc - s.Connect),
		SvcInit:  time.Duration(s.Main - svc),
		SvcServe: time.Duration(s.FirstByte - s.Main),
		Total:    s.Latency(),
	}
	if fork != 0 && shim != 0 {
		ph.ShimFound = true
		ph.ToFork = time.Duration(fork - s.Connect)
		ph.ForkExec = time.Duration(shim - fork)
		ph.Shim = time.Duration(svc - shim)
	}
	return ph, nil
}
