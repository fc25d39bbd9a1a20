package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/condition"
	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// instanceJob is one accepted connection handed to its instance's
// goroutine, which owns fd from then on.
type instanceJob struct {
	cfg  *units.Unit // the unit's settings when the connection came
	inst *liveInstance
	// instance is the instance part of the service name, what %i
	// expands to.
	instance string
	fd       int      // the connection; closed once the instance has its copy
	env      []string // REMOTE_ADDR, REMOTE_PORT
}

// errStopping is why an instance is not started while the unit stops.
var errStopping = errors.New("the unit is stopping")

// run is the life of one instance: ExecStartPre=, the main process with
// the connection, ExecStartPost=, then waiting for its exit, or stopping
// it when ctx is done. Instances are never restarted (Restart= does not
// apply to them, as in systemd); Type= is treated as simple.
func (a *acceptor) run(ctx context.Context, job instanceJob) {
	defer a.wg.Done()
	defer a.end(job.inst)
	svc := job.cfg.Service.Instantiate(job.instance)
	p, err := a.startInstance(ctx, &svc, job)
	unix.Close(job.fd) // the instance has its own copy, or none
	if err != nil {
		if !errors.Is(err, errStopping) {
			a.failures.Note("instance failed to start", "service", svc.Name, "peer", job.inst.Remote, "err", err)
		}
		return
	}
	a.u.mu.Lock()
	job.inst.PID, job.inst.proc = p.Pid, p
	a.u.mu.Unlock()
	exit := a.superviseInstance(ctx, &svc, p, job.env)
	a.logExit(&svc, job.inst, exit)
}

// logExit logs how an instance ended.
func (a *acceptor) logExit(svc *units.Service, inst *liveInstance, exit Exit) {
	if !exit.Clean() {
		a.failures.Note("instance exited", "service", svc.Name, "peer", inst.Remote, "status", exit.String())
		return
	}
	a.u.log.Debug("instance exited", "service", svc.Name, "status", exit.String())
}

// end forgets the instance, and wakes the accept loop when the last
// instance has ended (it may switch to Accept=no, or sleep).
func (a *acceptor) end(inst *liveInstance) {
	u := a.u
	u.mu.Lock()
	u.instances.remove(inst)
	live := len(u.instances.byID)
	u.status.Connections = live
	u.mu.Unlock()
	if inst.cancel != nil {
		inst.cancel()
	}
	close(inst.done)
	if live == 0 {
		select {
		case a.ended <- struct{}{}:
		default:
		}
	}
}

// startInstance runs ExecStartPre= and starts the main process with the
// connection as fd 3 (LISTEN_FDS=1) or, with StandardInput=socket, as
// fds 0–2 (then without the shim when the service allows it).
func (a *acceptor) startInstance(ctx context.Context, svc *units.Service, job instanceJob) (*spawn.Process, error) {
	u := a.u
	if r := condition.Check(job.cfg.Socket.Conditions, svc.Conditions); !r.OK {
		return nil, fmt.Errorf("not starting an instance: %s", r)
	}
	if err := u.runCommands(ctx, svc, "ExecStartPre", svc.ExecStartPre, job.env, svc.TimeoutStart); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, errStopping
	}
	spec, err := a.instanceSpec(svc, job)
	if err != nil {
		return nil, err
	}
	select {
	case spawnSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, errStopping
	}
	defer func() { <-spawnSlot }()
	return spawn.SpawnDirect(u.deps.Reaper, spec)
}

// instanceSpec is how to start the main process of an instance: the
// service's environment with REMOTE_ADDR and REMOTE_PORT, and the
// connection as its only fd.
func (a *acceptor) instanceSpec(svc *units.Service, job instanceJob) (*spawn.Spec, error) {
	env, err := a.u.serviceEnv(svc, job.env...)
	if err != nil {
		return nil, err
	}
	if svc.Process.NonBlocking {
		if err := unix.SetNonblock(job.fd, true); err != nil {
			return nil, os.NewSyscallError("fcntl", err)
		}
	}
	return a.u.mainSpec(svc, env, []int{job.fd}, []string{connectionName(job.cfg)})
}

// connectionName is the fd name of a connection in LISTEN_FDNAMES:
// FileDescriptorName= or "connection", as systemd ≥ 257 names it.
func connectionName(cfg *units.Unit) string {
	if cfg.Socket.FileDescriptorName != "" {
		return cfg.Socket.FileDescriptorName
	}
	return "connection"
}

// superviseInstance runs ExecStartPost= and waits for the main process
// to exit, or stops it when ctx is done. After the exit, what is left of
// its process group is signalled as KillMode= says.
func (a *acceptor) superviseInstance(ctx context.Context, svc *units.Service, p *spawn.Process, env []string) Exit {
	u := a.u
	defer func() { <-p.ExecDone() }()
	mainEnv := append(env[:len(env):len(env)], "MAINPID="+strconv.Itoa(p.Pid))
	if err := u.runCommands(ctx, svc, "ExecStartPost", svc.ExecStartPost, mainEnv, svc.TimeoutStart); err != nil {
		a.failures.Note("ExecStartPost failed, stopping the instance", "service", svc.Name, "err", err)
		return a.stopInstance(ctx, svc, p.Pid, p.Exit, mainEnv)
	}
	return a.waitInstance(ctx, svc, p, mainEnv)
}

// waitInstance waits for the instance's main process to exit, or stops
// it when ctx is done.
func (a *acceptor) waitInstance(ctx context.Context, svc *units.Service, p *spawn.Process, mainEnv []string) Exit {
	select {
	case st, ok := <-p.Exit:
		e := exitFrom(st, ok)
		switch svc.KillMode {
		case units.KillControlGroup:
			killGroup(p.Pid, svc.KillSignal)
		case units.KillMixed:
			killGroup(p.Pid, syscall.SIGKILL)
		}
		return e
	case <-ctx.Done():
		return a.stopInstance(ctx, svc, p.Pid, p.Exit, mainEnv)
	}
}

// stopInstance stops a running instance: ExecStop=, then KillSignal= to
// its process group (or its main process, per KillMode=), then, after
// TimeoutStopSec=, SIGKILL (SendSIGKILL=).
func (a *acceptor) stopInstance(ctx context.Context, svc *units.Service, pid int, exitC <-chan reaper.Status, env []string) Exit {
	u := a.u
	if err := u.runCommands(context.WithoutCancel(ctx), svc, "ExecStop", svc.ExecStop, env, svc.TimeoutStop); err != nil {
		a.failures.Note("ExecStop failed", "service", svc.Name, "err", err)
	}
	exit, _ := killAndWait(u.log, "instance", svc, pid, exitC, true)
	return exit
}
