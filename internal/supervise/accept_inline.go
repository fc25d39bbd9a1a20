package supervise

import (
	"context"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// Inline instances. Most Accept=yes services have no ExecStartPre= and
// no ExecStartPost=: the instance is one process. The accept loop starts
// it itself, without waiting for it to be in its own session
// (spawn.Spec.NoSessionWait, see killGroup), and it has no goroutine
// while it runs: the reaper calls instanceExited, which signals what is
// left of its process group (KillMode=), logs the exit and ends the
// instance. A stop (StopInstance, or the unit stopping) starts a
// goroutine that runs ExecStop= and the kill sequence, and then receives
// the exit instead. Per connection that saves a goroutine and the
// hand-offs to and from it.
//
// The instance's state (liveInstance.stopWanted, exited, stopExit) is
// guarded by Unit.mu, and it ends exactly once: through instanceExited,
// the stopping goroutine, or a failed start.

// startsInline reports whether an instance of svc is started inline.
func startsInline(svc *units.Service) bool {
	return len(svc.ExecStartPre) == 0 && len(svc.ExecStartPost) == 0 && len(svc.Conditions) == 0
}

// startInline starts the instance of job, in the accept loop, and closes
// the loop's copy of the connection.
func (a *acceptor) startInline(job instanceJob) {
	u := a.u
	inst := job.inst
	svc := job.cfg.Service.Instantiate(job.instance)
	inst.svc = &svc
	p, err := a.spawnInline(&svc, job)
	unix.Close(job.fd) // the instance has its own copy, or none
	if err != nil {
		a.failures.Note("instance failed to start", "service", svc.Name, "peer", inst.Remote, "err", err)
		a.finish(inst)
		return
	}
	u.mu.Lock()
	inst.PID, inst.proc = p.Pid, p
	exited, stop := inst.exited, inst.stopWanted && !inst.exited
	u.mu.Unlock()
	if exited {
		<-p.ExecDone() // frees what the spawn kept for the child, at once
	}
	if stop {
		a.stopInline(inst)
	}
}

// spawnInline starts the main process of an inline instance.
func (a *acceptor) spawnInline(svc *units.Service, job instanceJob) (*spawn.Process, error) {
	spec, err := a.instanceSpec(svc, job)
	if err != nil {
		return nil, err
	}
	spec.NoSessionWait = true
	inst := job.inst
	spec.Exited = func(st reaper.Status, ok bool) { a.instanceExited(inst, st, ok) }
	spawnSlot <- struct{}{}
	defer func() { <-spawnSlot }()
	return spawn.SpawnDirect(a.u.deps.Reaper, spec)
}

// instanceExited is called by the reaper when the main process of an
// inline instance has exited (ok=false: the reaper stopped first).
func (a *acceptor) instanceExited(inst *liveInstance, st reaper.Status, ok bool) {
	u := a.u
	u.mu.Lock()
	if c := inst.stopExit; c != nil { // stopInline's goroutine waits for it
		u.mu.Unlock()
		if ok {
			c <- st
		}
		close(c)
		return
	}
	inst.exited = true
	p := inst.proc
	u.mu.Unlock()
	if ok {
		killRest(inst.svc, st.Pid)
	}
	if p != nil {
		<-p.ExecDone() // the child has left its block: no wait
	}
	a.logExit(inst.svc, inst, exitFrom(st, ok))
	a.finish(inst)
}

// stopInline stops an inline instance: at once if it runs, once started
// if the loop is starting it, not at all if it has ended.
func (a *acceptor) stopInline(inst *liveInstance) {
	u := a.u
	u.mu.Lock()
	if inst.exited || inst.stopExit != nil {
		u.mu.Unlock()
		return
	}
	if inst.proc == nil {
		inst.stopWanted = true // startInline stops it, or it failed to start
		u.mu.Unlock()
		return
	}
	c := make(chan reaper.Status, 1)
	inst.stopExit = c
	p := inst.proc
	u.mu.Unlock()
	go func() {
		mainEnv := append(inst.env[:len(inst.env):len(inst.env)], "MAINPID="+strconv.Itoa(p.Pid))
		exit := a.stopInstance(context.Background(), inst.svc, p.Pid, c, mainEnv)
		<-p.ExecDone()
		a.logExit(inst.svc, inst, exit)
		a.finish(inst)
	}()
}

// finish ends an instance that has no goroutine of its own (or whose
// goroutine is about to return).
func (a *acceptor) finish(inst *liveInstance) {
	a.end(inst)
	a.wg.Done()
}
