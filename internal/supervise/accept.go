package supervise

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/units"
)

// Accept=yes (systemd.socket(5)): sockd accepts every connection itself
// and starts one instance of the template service NAME@.service per
// connection, with the connection as its only socket. The accept loop
// runs in the unit's goroutine (wake.go). An instance without
// ExecStartPre= and ExecStartPost= is started by the loop itself and has
// no goroutine while it runs: the reaper reports its exit
// (accept_inline.go). Any other instance is started, watched and stopped
// by a goroutine of its own (accept_instance.go). The loop owns both
// kinds: it stops them and waits for them when it ends. Nothing per
// connection outlives the connection's instance.

// acceptBatch bounds the connections taken from one listener per wake-up,
// so that a flood cannot keep the loop from its other work (control
// requests, timers). A listener that still has connections queued fires
// again at once when it is re-armed.
const acceptBatch = 64

// acceptRetry is how long a listener rests after accept4 failed for lack
// of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM), instead of spinning.
const acceptRetry = 100 * time.Millisecond

// spawnSlot lets one instance of any Accept=yes unit be forked at a time.
// Forks are serialized by the reaper's lock anyway; a crowd of goroutines
// waiting for it once put the lock into starvation mode, where the
// reaper got it about once per millisecond and exited instances waited
// as zombies that still counted against MaxConnections=. Inline
// instances are forked by their unit's loop, one at a time per unit; the
// token still keeps the loops of busy units, and the goroutines of
// instances with ExecStartPre=, from crowding the lock. It is taken only
// around the fork.
var spawnSlot = make(chan struct{}, 1)

// acceptor is the state of the accept loop, owned by the unit's goroutine
// (kept in Unit.acc while it sleeps).
type acceptor struct {
	u      *Unit
	ctx    context.Context // the instances' parent: cancelled to stop them all
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per instance goroutine
	// ended wakes the loop when the last instance has ended: to switch
	// to Accept=no after a reload turned Accept= off, or to sleep.
	ended chan struct{} // 1-buffered

	accepted uint64 // connections given an instance (systemd's n_accepted)
	resting  map[int]bool
	retry    *time.Timer // wakes resting listeners
	refusals *logLimiter // MaxConnections= refusals and accept errors
	failures *logLimiter // instances that failed to start or exited uncleanly
}

// runAccept is the unit's goroutine for an Accept=yes unit. It returns
// true when the goroutine went to sleep (wake.go), keeping the loop's
// state in u.acc for the next wake; false when ctx is done, after
// stopping every instance, or when a reload turned Accept= off and the
// last instance has ended; the listeners are then blocking again and
// watched, ready for the Accept=no loop.
func (u *Unit) runAccept(ctx context.Context) (asleep bool) {
	a := u.acc
	if a == nil {
		a = u.newAcceptor()
		u.acc = a
	}
	defer func() {
		if !asleep {
			u.acc = nil
			a.close()
		}
	}()
	for u.cfg.Socket.Accept || a.live() > 0 {
		if u.sleep(a.idle()) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-u.triggerC:
			if u.pollAllowed(time.Now()) { // polllimit.go
				a.acceptAll()
			}
		case <-u.pollResumeC():
			u.pollResume()
		case <-a.ended:
		case <-a.refusals.C():
			a.refusals.Flush()
		case <-a.failures.C():
			a.failures.Flush()
		case <-a.retry.C:
			a.wake()
		case <-u.reqC:
			u.serveRequest(ctx, a.handle, a.saveInstances)
		}
	}
	return false
}

// idle reports whether the loop waits for nothing but connections and
// requests: no live instance, no resting listener, no log record held
// back.
func (a *acceptor) idle() bool {
	return a.live() == 0 && len(a.resting) == 0 && !a.refusals.holding() && !a.failures.holding() && !a.u.pollPaused()
}

func (u *Unit) newAcceptor() *acceptor {
	a := &acceptor{
		u:        u,
		ended:    make(chan struct{}, 1),
		resting:  map[int]bool{},
		retry:    time.NewTimer(time.Hour),
		refusals: newLogLimiter(u.log.Warn, time.Second),
		failures: newLogLimiter(u.log.Warn, time.Second),
	}
	a.retry.Stop()
	a.ctx, a.cancel = context.WithCancel(context.Background())
	u.stopTimer() // a reload may switch to Accept=yes while a restart of the Accept=no service is pending
	if u.state != StateFailed && u.state != StateListening {
		u.setState(StateListening, "")
	}
	for _, l := range u.listeners {
		if err := unix.SetNonblock(l.Fd(), true); err != nil {
			u.log.Error("making listener non-blocking", "listen", l.Spec().Address.String(), "err", err)
		}
	}
	a.accepted = uint64(u.Status().Accepted)
	a.adoptInstances()
	u.log.Debug("accepting connections", "service", u.cfg.Service.Name)
	return a
}

// close stops every instance and waits for their goroutines, then gives
// the listeners back their blocking mode (the mode a service expects if
// the unit is reloaded with Accept=no) and watches them again.
func (a *acceptor) close() {
	a.stopInstances()
	a.retry.Stop()
	a.refusals.Stop()
	a.failures.Stop()
	for _, l := range a.u.listeners {
		if err := unix.SetNonblock(l.Fd(), false); err != nil {
			a.u.log.Error("making listener blocking", "listen", l.Spec().Address.String(), "err", err)
		}
	}
	if a.u.state != StateFailed {
		a.u.rearm()
	}
}

// stopInstances stops every live instance and waits until all have ended.
func (a *acceptor) stopInstances() {
	a.cancel()
	u := a.u
	u.mu.Lock()
	insts := make([]*liveInstance, 0, len(u.instances.byID))
	for _, inst := range u.instances.byID {
		insts = append(insts, inst)
	}
	u.mu.Unlock()
	for _, inst := range insts {
		inst.stop()
	}
	a.wg.Wait()
	a.ctx, a.cancel = context.WithCancel(context.Background())
}

func (a *acceptor) live() int {
	a.u.mu.Lock()
	defer a.u.mu.Unlock()
	return len(a.u.instances.byID)
}

// accepting reports whether the loop takes new connections: not after a
// trigger limit failed the unit, nor after a reload turned Accept= off.
func (a *acceptor) accepting() bool {
	return a.u.state != StateFailed && a.u.cfg.Socket.Accept
}

// acceptAll takes the queued connections of every listener. A listener
// that is not readable answers EAGAIN at once; the Watcher does not say
// which one fired.
func (a *acceptor) acceptAll() {
	for _, l := range a.u.listeners {
		if !a.accepting() {
			return
		}
		if !a.resting[l.Fd()] {
			a.acceptFrom(l)
		}
	}
}

// acceptFrom accepts up to acceptBatch connections from l, then watches
// it again, unless it must rest after a resource error.
func (a *acceptor) acceptFrom(l *activation.Listener) {
	fd := l.Fd()
	for i := 0; i < acceptBatch && a.accepting(); {
		cfd, sa, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
			i++
			a.connection(cfd, sa)
		case errors.Is(err, unix.EAGAIN):
			a.watch(l)
			return
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED), errors.Is(err, unix.EPROTO):
			i++ // the connection went away before it was accepted
		default:
			a.refusals.Note("accept failed, pausing the listener", "listen", l.Spec().Address.String(), "err", err, "pause", acceptRetry)
			a.resting[fd] = true
			a.retry.Reset(acceptRetry)
			return
		}
	}
	if a.accepting() {
		a.watch(l)
	}
}

func (a *acceptor) watch(l *activation.Listener) {
	if err := a.u.deps.Watcher.Rearm(l.Fd()); err != nil {
		a.u.log.Error("re-arming listener", "listen", l.Spec().Address.String(), "err", err)
	}
}

// wake ends the rest of the listeners that hit a resource error.
func (a *acceptor) wake() {
	clear(a.resting)
	if a.accepting() && !a.u.pollPaused() {
		a.u.rearm()
	}
}

// connection handles one accepted connection: it applies the trigger
// limit, then MaxConnections= and MaxConnectionsPerSource=, and starts an
// instance; a connection over a limit is closed at once and counted as
// refused.
func (a *acceptor) connection(cfd int, sa unix.Sockaddr) {
	u := a.u
	if !u.triggers.allow(time.Now()) {
		unix.Close(cfd)
		u.failTriggerLimit()
		return
	}
	p, err := peerOf(cfd, sa)
	if err != nil {
		unix.Close(cfd)
		u.log.Debug("connection gone before it was served", "err", err)
		return
	}
	cfg := u.cfg
	instance := p.instance(a.accepted)
	inst := &liveInstance{
		Instance: Instance{Name: units.InstanceName(cfg.Service.Name, instance), Remote: p.String(), Since: time.Now()},
		source:   p.source(),
		done:     make(chan struct{}),
		instance: instance,
		env:      p.env(),
	}
	job := instanceJob{cfg: cfg, inst: inst, instance: instance, fd: cfd, env: inst.env}
	inline := startsInline(&cfg.Service) && len(cfg.Socket.Conditions) == 0
	var ctx context.Context
	if inline {
		inst.stop = func() { a.stopInline(inst) }
	} else {
		ctx, inst.cancel = context.WithCancel(a.ctx)
		inst.stop = inst.cancel
	}
	if !a.admit(cfg, inst) {
		unix.Close(cfd)
		if inst.cancel != nil {
			inst.cancel()
		}
		return
	}
	a.wg.Add(1)
	if inline {
		a.startInline(job)
		return
	}
	go a.run(ctx, job)
}

// admit records the instance, or counts the connection as refused if a
// limit does not allow it.
func (a *acceptor) admit(cfg *units.Unit, inst *liveInstance) bool {
	u := a.u
	u.mu.Lock()
	err := u.instances.admit(inst, cfg.Socket.MaxConnections, cfg.Socket.MaxConnectionsPerSource)
	if err != nil && u.deps.Reaper != nil {
		// Instances that have exited may not be reaped yet: reap them
		// now rather than refuse for them.
		u.mu.Unlock()
		u.deps.Reaper.Reap()
		u.mu.Lock()
		err = u.instances.admit(inst, cfg.Socket.MaxConnections, cfg.Socket.MaxConnectionsPerSource)
	}
	if err == nil {
		a.accepted++
		u.status.Accepted++
		u.status.Connections = len(u.instances.byID)
		u.mu.Unlock()
		return true
	}
	u.status.Refused++
	refused := u.status.Refused
	u.mu.Unlock()
	a.refusals.Note(err.Error()+", dropping connection", "peer", inst.Remote, "refused", refused)
	return false
}

// handle serves a request of the control API in accept mode. The service
// of an Accept=yes unit is a template: "stop" stops every instance,
// "start" and "restart" are refused.
func (a *acceptor) handle(ctx context.Context, req request) error {
	u := a.u
	switch req.op {
	case opReconfigure:
		a.reconfigure(req.cfg)
	case OpStop:
		u.log.Info("stopping all instances", "service", u.cfg.Service.Name, "instances", a.live())
		a.stopInstances()
	case OpStart, OpRestart:
		return fmt.Errorf("%s is a template: sockd starts an instance of it per connection", u.cfg.Service.Name)
	case OpGracefulRestart:
		return gracefulAcceptError(u.cfg.Service.Name)
	case OpReset:
		if u.state == StateFailed {
			if err := u.reopenListeners(); err != nil { // refuse.go
				return err
			}
			u.triggers.reset()
			u.setState(StateListening, "")
			clear(a.resting)
			u.rearm()
		}
	}
	return nil
}

// reconfigure applies new settings at once: an instance keeps the
// settings it was started with, the next connection gets the new ones.
// New settings with Accept=no take effect once the last instance has
// ended; until then no connection is accepted.
func (a *acceptor) reconfigure(cfg *units.Unit) {
	u := a.u
	u.cfg, u.pending = cfg, nil
	u.triggers.interval, u.triggers.burst = cfg.Socket.TriggerLimitInterval, cfg.Socket.TriggerLimitBurst
	u.mu.Lock()
	u.status.Service = cfg.Service.Name
	u.mu.Unlock()
	if !cfg.Socket.Accept {
		u.log.Info("Accept=no takes effect once the live instances have ended", "instances", a.live())
		return
	}
	u.log.Info("new settings in effect")
}
