package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/units"
)

// Type=forking and Type=oneshot (systemd.service(5)).

// waitForked waits, within the start deadline, until the process
// ExecStart= started exits: with success, the daemon it forked, named
// by PIDFile=, becomes the main process (sockd is a child subreaper, so
// the daemon is its child once its parent is gone) and the start is
// done; otherwise the start failed.
func (u *Unit) waitForked(ctx context.Context, svc *units.Service, deadline <-chan time.Time) bool {
	for {
		select {
		case msg := <-u.main.notifyC():
			u.notified(msg)
		case st, ok := <-u.main.exitC():
			exit := exitFrom(st, ok)
			if !exit.success(svc) {
				u.mainEnded(ctx, exit)
				return false
			}
			return u.adoptForked(svc, exit)
		case <-deadline:
			u.log.Error("service did not become ready in time, stopping it", "service", svc.Name, "timeout", svc.TimeoutStart)
			u.stopServiceResult(ctx, "start timed out", true)
			return false
		case <-ctx.Done():
			u.stopService(ctx, "sockd is stopping")
			return false
		}
	}
}

// adoptForked makes the daemon in PIDFile= the main process.
func (u *Unit) adoptForked(svc *units.Service, parentExit Exit) bool {
	parent := u.main
	parent.exited = true
	var pid int
	var err error
	if svc.Ready.PIDFile != "" {
		pid, err = readPIDFile(svc.Ready.PIDFile)
	} else {
		pid, err = u.guessMainPID()
	}
	var exitC <-chan reaper.Status
	if err == nil {
		exitC, err = adoptPID(u.deps.Reaper, pid)
	}
	if err != nil {
		u.finishMain(parentExit)
		u.startFailed(fmt.Errorf("Type=forking: %w", err), "protocol")
		return false
	}
	u.main = &process{pid: pid, exit: exitC, started: time.Now(), notify: parent.notify, session: parent.pid}
	parent.notify = nil
	if u.main.notify != nil {
		u.main.notify.setMain(pid) // NotifyAccess=main follows the main process
	}
	u.mu.Lock()
	u.status.MainPID = pid
	u.mu.Unlock()
	u.log.Info("forked daemon is the main process", "service", svc.Name, "pid", pid)
	return true
}

// readPIDFile reads the main pid from PIDFile=, refusing pids that
// cannot be a service's (0, 1, sockd itself).
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("PID file not readable after start: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || pid == os.Getpid() {
		return 0, fmt.Errorf("PID file %s: %q is not a service's pid", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// adoptPID returns the exit channel of pid, a descendant of sockd: at
// once when it is sockd's child, else once its parent is gone and the
// reaper has it (a pidfd tells when it exits).
func adoptPID(r *reaper.Reaper, pid int) (<-chan reaper.Status, error) {
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return nil, fmt.Errorf("main process %d is not running", pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd of main process %d: %w", pid, err)
	}
	c := r.Adopt(pid)
	select {
	case st, ok := <-c:
		out := make(chan reaper.Status, 1)
		if !ok {
			// Not (yet) sockd's child: wait for the exit on the pidfd.
			go waitPidfd(r, pid, fd, out)
			return out, nil
		}
		unix.Close(fd)
		out <- st
		close(out)
		return out, nil
	default:
		unix.Close(fd)
		return c, nil
	}
}

// waitPidfd waits until pid has exited, then delivers its status from
// the reaper (which reaped it as an orphan, or reaps it now), or closes
// out without one when pid never became sockd's child. It ends when the
// process does: sockd stops every service before it exits.
func waitPidfd(r *reaper.Reaper, pid, fd int, out chan<- reaper.Status) {
	defer close(out)
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			break
		}
	}
	r.Reap()
	if st, ok := <-r.Adopt(pid); ok {
		out <- st
	}
}

// startOneshot runs the ExecStart= commands of a Type=oneshot service one
// after another, each with the listeners, to their end. When all
// succeed, the service stays active without a process with
// RemainAfterExit=yes, or the unit listens again.
func (u *Unit) startOneshot(ctx context.Context, svc *units.Service) {
	var deadline <-chan time.Time
	if svc.TimeoutStart > 0 {
		t := time.NewTimer(svc.TimeoutStart)
		defer t.Stop()
		deadline = t.C
	}
	for i := range svc.ExecStart {
		one := *svc
		one.ExecStart = svc.ExecStart[i : i+1]
		p, err := u.spawnProcess(&one, true)
		if err != nil {
			u.startFailed(err, "resources")
			return
		}
		u.main = p
		u.mu.Lock()
		u.status.MainPID = p.pid
		u.mu.Unlock()
		var st reaper.Status
		var ok bool
		select {
		case st, ok = <-p.exitC():
		case <-deadline:
			u.log.Error("Type=oneshot command did not finish in time, stopping it", "service", svc.Name, "timeout", svc.TimeoutStart)
			u.stopServiceResult(ctx, "start timed out", true)
			return
		case <-ctx.Done():
			u.stopService(ctx, "sockd is stopping")
			return
		}
		exit := exitFrom(st, ok)
		if !exit.success(svc) || i == len(svc.ExecStart)-1 && !svc.Ready.RemainAfterExit {
			u.mainEnded(ctx, exit)
			return
		}
		p.exited = true
		u.finishMain(exit)
	}
	u.setState(StateRunning, "success")
}

// stopExited stops a Type=oneshot service that remained active after its
// commands exited (RemainAfterExit=yes): ExecStop=, ExecStopPost=.
func (u *Unit) stopExited(ctx context.Context) {
	svc := &u.cfg.Service
	u.setState(StateStopping, "")
	if err := u.runCommands(context.WithoutCancel(ctx), svc, "ExecStop", svc.ExecStop, nil, svc.TimeoutStop); err != nil {
		u.log.Warn("ExecStop failed", "err", err)
	}
	u.runStopPost("success", nil)
	u.goListening()
}

// guessMainPID finds the daemon of a Type=forking service without
// PIDFile= as systemd's GuessMainPID= does: the one process of the
// service's cgroup whose parent is sockd (the daemon, reparented to
// sockd, the subreaper), or the cgroup's only process.
func (u *Unit) guessMainPID() (int, error) {
	if u.cgroup == nil {
		return 0, errors.New("cannot guess the main process without a cgroup for the service; set PIDFile=")
	}
	pids := u.cgroup.Pids()
	var ours []int
	for _, p := range pids {
		if parentOf(p) == os.Getpid() {
			ours = append(ours, p)
		}
	}
	switch {
	case len(ours) == 1:
		return ours[0], nil
	case len(ours) == 0 && len(pids) == 1:
		return pids[0], nil
	}
	return 0, fmt.Errorf("cannot guess the main process: %d processes in the service's cgroup; set PIDFile=", len(pids))
}

// parentOf returns the parent pid of pid from /proc, 0 if unknown.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// mainPIDNotified honours MAINPID=: the named process, which must be in
// the service's session (or be named by root, as systemd accepts a pid
// outside the unit only from uid 0), becomes the main process. Its exit
// is seen as the process it replaced would have been: it is sockd's child
// once its parent is gone (adoptPID).
func (u *Unit) mainPIDNotified(msg notifyMsg) {
	pid := msg.MainPID
	if pid <= 1 || u.main == nil || pid == u.main.pid || pid == os.Getpid() {
		return
	}
	if !u.inService(pid) && msg.UID != 0 {
		u.log.Warn("ignoring MAINPID= of a process outside the service", "pid", pid, "sender", msg.PID)
		return
	}
	exitC, err := adoptPID(u.deps.Reaper, pid)
	if err != nil {
		u.log.Warn("ignoring MAINPID=", "pid", pid, "err", err)
		return
	}
	old := u.main
	session := old.session
	if session == 0 {
		session = old.pid
	}
	u.main = &process{pid: pid, exit: exitC, started: time.Now(), notify: old.notify, watchdog: old.watchdog, session: session}
	old.notify, old.watchdog = nil, nil
	if u.main.notify != nil {
		u.main.notify.setMain(pid) // NotifyAccess=main follows the main process
	}
	u.mu.Lock()
	u.status.MainPID = pid
	u.mu.Unlock()
	u.log.Info("the service named a new main process (MAINPID=)", "service", u.cfg.Service.Name, "pid", pid, "was", old.pid)
}
