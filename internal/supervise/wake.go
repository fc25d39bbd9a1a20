package supervise

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// A unit's goroutine runs only while the unit has something to do, so
// that an idle unit costs no goroutine and no stack (with 10,000 units,
// 10,000 idle goroutines were half of sockd's memory).
//
// The goroutine is started (woken) by Trigger, by a request (Do,
// Reconfigure) and by Start when a request came first. It runs the
// Accept=no loop (runQueue) or the accept loop (runAccept); at the top of
// every turn the loop calls sleep, which ends the goroutine when the unit
// is idle and nothing is waiting:
//
//   - idle: no main process and no timer (Accept=no); no live instance,
//     resting listener or held-back log record (Accept=yes, whose loop
//     state is kept in Unit.acc meanwhile);
//   - nothing waiting: no trigger in triggerC and no queued request.
//
// Race freedom: Trigger and queue record the work (in triggerC,
// life.reqs) and wake the goroutine, under mu; sleep checks for both and
// clears life.awake under mu. Either sleep sees the work and stays, or
// the wake sees awake == false and starts a new goroutine. After sleep
// returns true the old goroutine touches nothing of the unit: a new one
// may be running.
//
// Each turn gets a context of its own, a child of Start's, which sleep
// and Stop cancel.

// lifecycle is the state of a unit's goroutine; guarded by Unit.mu.
type lifecycle struct {
	parent  context.Context    // Start's; nil before Start
	cancel  context.CancelFunc // the running goroutine's context
	awake   bool               // the goroutine runs
	stopped bool               // Stop was called: no goroutine starts again
	parked  bool               // ParkIdle: no goroutine starts until unpark (upgrade.go)
	reqs    []request          // requests waiting for the goroutine
	wg      sync.WaitGroup     // the goroutine, for Stop
	reason  string             // StopBecause's (stopreason.go)
}

// Start supervises the unit under ctx until Stop, and returns at once:
// it watches the listeners, and the unit's goroutine runs only while the
// unit has work (see above). When ctx is done the goroutine stops the
// service gracefully, as Stop does. Start is called once, and not after
// Stop or Close.
func (u *Unit) Start(ctx context.Context) {
	u.mu.Lock()
	if u.life.stopped {
		u.mu.Unlock()
		return
	}
	u.life.parent = ctx
	// Requests made before Start, and a service or instances a previous
	// image of sockd started (Restore), need the goroutine at once.
	if len(u.life.reqs) > 0 || u.main != nil || len(u.adopted) > 0 {
		u.wakeLocked()
	}
	u.mu.Unlock()
	u.watch()
}

// Stop ends the supervision: it stops the service (gracefully, as
// TimeoutStopSec= and KillMode= say) if it runs, waits for the unit's
// goroutine and stops watching the listeners, which stay open (see
// Close). Requests fail with ErrStopped from then on. Stopping a unit
// never started, or again, does nothing more.
func (u *Unit) Stop() {
	u.mu.Lock()
	started := u.life.parent != nil && !u.life.stopped
	u.life.stopped = true
	if u.life.cancel != nil {
		u.life.cancel()
	}
	u.mu.Unlock()
	u.life.wg.Wait()
	u.waitDrained() // old instances of a graceful restart (graceful.go)
	if started {
		if u.acc != nil { // the accept loop slept: its instances have ended
			u.acc.close()
			u.acc = nil
		}
		u.unwatch()
	}
	u.failRequests()
}

// Run is Start, then Stop once ctx is done: it returns when the service
// has stopped. It holds the calling goroutine throughout; the daemon uses
// Start and Stop.
func (u *Unit) Run(ctx context.Context) {
	u.Start(ctx)
	<-ctx.Done()
	u.Stop()
}

// wakeLocked starts the unit's goroutine unless it runs; u.mu is held.
// Before Start and after Stop it does nothing: the work waits for Start,
// or is dropped.
func (u *Unit) wakeLocked() {
	l := &u.life
	if l.awake || l.parent == nil || l.stopped || l.parked {
		return
	}
	l.awake = true
	u.makeChans()
	if u.log == nil {
		u.log = u.newLogger()
	}
	var ctx context.Context
	ctx, l.cancel = context.WithCancel(l.parent)
	l.wg.Add(1)
	go u.loop(ctx)
}

// loop is the unit's goroutine, from a wake until it sleeps or ctx is
// done. An Accept=yes unit runs the accept loop (runAccept, accept.go)
// instead of the Accept=no one; a reload that switches Accept= switches
// loops.
func (u *Unit) loop(ctx context.Context) {
	defer u.life.wg.Done()
	for ctx.Err() == nil {
		var asleep bool
		if u.cfg.Socket.Accept {
			asleep = u.runAccept(ctx)
		} else {
			asleep = u.runQueue(ctx)
		}
		if asleep {
			return
		}
	}
	// ctx is done (sockd stops, or Stop): the service is stopped.
	u.mu.Lock()
	u.life.awake = false
	u.life.cancel()
	u.life.cancel = nil
	reqs := u.life.reqs
	u.life.reqs = nil
	u.mu.Unlock()
	for _, r := range reqs {
		r.reply <- ErrStopped
	}
}

// sleep ends the goroutine's turn if idle holds and no trigger or request
// waits. When it returns true the caller returns at once, without
// touching the unit: another goroutine may already own it.
func (u *Unit) sleep(idle bool) bool {
	if !idle {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.triggerC) > 0 || len(u.hupC) > 0 || len(u.life.reqs) > 0 {
		return false
	}
	u.life.awake = false
	u.life.cancel()
	u.life.cancel = nil
	return true
}

// queue adds req for the goroutine, waking it; false after Stop.
func (u *Unit) queue(req request) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.life.stopped {
		return false
	}
	u.life.reqs = append(u.life.reqs, req)
	u.makeChans()
	u.kickLocked()
	u.wakeLocked()
	return true
}

// withdraw removes req from the queue if the goroutine has not taken it.
func (u *Unit) withdraw(req request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.life.reqs = slices.DeleteFunc(u.life.reqs, func(r request) bool { return r.reply == req.reply })
}

// makeChans makes triggerC and reqC, both at once, on first use; u.mu is
// held. They are made before the goroutine first starts, and never
// replaced, so the goroutine reads them without the lock. An idle unit
// never woken has none.
func (u *Unit) makeChans() {
	if u.triggerC == nil {
		u.triggerC, u.reqC, u.hupC = make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{}, 1)
	}
}

// kickLocked tells a goroutine waiting in its loop that requests are
// queued.
func (u *Unit) kickLocked() {
	select {
	case u.reqC <- struct{}{}:
	default:
	}
}

// serveRequest performs the oldest queued request with handle (the
// Accept=no or the accept loop's), and kicks again if more are queued, so
// that other events are served between requests.
// A park request (opPark) is served by park, with saveInstances for the
// accept loop's instances (nil for Accept=no).
func (u *Unit) serveRequest(ctx context.Context, handle func(context.Context, request) error, saveInstances func() ([]SavedInstance, error)) {
	u.mu.Lock()
	if len(u.life.reqs) == 0 {
		u.mu.Unlock()
		return
	}
	req := u.life.reqs[0]
	u.life.reqs = slices.Delete(u.life.reqs, 0, 1)
	if len(u.life.reqs) > 0 {
		u.kickLocked()
	}
	u.mu.Unlock()
	if req.op == opPark {
		u.park(ctx, req, saveInstances) // replies itself
		return
	}
	req.reply <- handle(ctx, req)
}

// failRequests answers the queued requests with ErrStopped.
func (u *Unit) failRequests() {
	u.mu.Lock()
	reqs := u.life.reqs
	u.life.reqs = nil
	u.mu.Unlock()
	for _, r := range reqs {
		r.reply <- ErrStopped
	}
}

// logger returns the unit's logger, for code outside the unit's
// goroutine (which uses u.log).
func (u *Unit) logger() *slog.Logger {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.log == nil {
		u.log = u.newLogger()
	}
	return u.log
}

// newLogger makes the unit's logger. It is made on first use rather than
// by New: an idle unit does not keep one.
func (u *Unit) newLogger() *slog.Logger {
	return u.deps.Log.With("unit", u.status.Name+".socket")
}
