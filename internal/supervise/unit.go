package supervise

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/cgroup"
	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/units"
)

// Deps are the daemon-wide services a Unit uses.
type Deps struct {
	Reaper *reaper.Reaper
	// Watcher delivers readable events of idle listeners; its callback
	// must call Trigger on the *Unit used as the key.
	Watcher *activation.Watcher
	Log     *slog.Logger
	// NotifyDir is the directory (or "@prefix" for abstract names) for
	// the private NOTIFY_SOCKETs of
	// Type=notify services.
	NotifyDir string
	// StartLatency, if set, is told how long each start of the service
	// took, from its start to its readiness (startlatency.go).
	StartLatency func(unit string, d time.Duration)
}

// State is where a unit is in its lifecycle, named as systemctl names the
// socket's and the service's states.
type State string

// The states of a unit.
const (
	StateListening   State = "listening"    // idle, listeners watched
	StateStarting    State = "starting"     // ExecStartPre=, waiting for readiness
	StateRunning     State = "running"      // the service runs and owns the queue
	StateStopping    State = "stopping"     // ExecStop=, KillSignal=, waiting
	StateAutoRestart State = "auto-restart" // waiting RestartSec= to start again
	StateFailed      State = "failed"       // a limit was hit; listeners closed or not watched (refuse.go)
	StateStopped     State = "stopped"      // the socket was stopped: listeners closed
)

// Unit supervises one unit. Create it with New, supervise it with Start
// and Stop (or Run).
type Unit struct {
	name   string      // cfg.Name, which no reload changes; read from any goroutine
	cfg    *units.Unit // owned by the unit's goroutine
	latest *units.Unit // the newest settings given (New, Reconfigure); guarded by mu
	deps   Deps
	// log is made by the first wake (wake.go); code outside the unit's
	// goroutine uses logger().
	log       *slog.Logger
	listeners []*activation.Listener

	// triggerC and reqC (1-buffered: a request was queued) are made by
	// the first Trigger or request, under mu (wake.go).
	triggerC chan struct{}
	hupC     chan struct{} // an fd store entry hung up (fdstore.go); made with triggerC
	reqC     chan struct{}

	// Owned by the unit's goroutine.
	state      State
	main       *process
	triggers   rateLimit
	polls      pollLimit // PollLimit*= (polllimit.go)
	starts     rateLimit
	timer      *time.Timer
	timerFor   timerPurpose
	stopWanted bool
	restarting bool          // stopping for a requested restart (RestartKillSignal=, RuntimeDirectoryPreserve=)
	cgroup     *cgroup.Group // the service's own cgroup, with resource control (cgroups.go)
	pending    *units.Unit   // settings to switch to at the next start (Reconfigure)
	fdstore    fdStore       // FDSTORE=1 fds kept across starts (fdstore.go)
	// adopted are the Accept=yes instances a previous image of sockd
	// started (Restore), taken over by the accept loop when it starts.
	adopted []SavedInstance
	acc     *acceptor // the accept loop's state, kept while the goroutine sleeps (accept.go)
	// draining counts the goroutines stopping old main processes after a
	// graceful restart (graceful.go); Run waits for them.
	draining sync.WaitGroup

	mu     sync.Mutex
	status Status
	// instances are the live per-connection instances of an Accept=yes
	// unit (accept_table.go); guarded by mu.
	instances instanceTable
	life      lifecycle // the unit's goroutine (wake.go); guarded by mu
}

// New returns a supervisor for cfg that owns listeners, bound from
// cfg.Socket in order.
func New(cfg *units.Unit, listeners []*activation.Listener, deps Deps) *Unit {
	u := &Unit{
		name:      cfg.Name,
		cfg:       cfg,
		latest:    cfg,
		deps:      deps,
		listeners: listeners,
		state:     StateListening,
		triggers:  rateLimit{interval: cfg.Socket.TriggerLimitInterval, burst: cfg.Socket.TriggerLimitBurst},
		starts:    rateLimit{interval: cfg.Service.Exits.StartLimitInterval, burst: cfg.Service.Exits.StartLimitBurst},
	}
	u.setPollLimit()
	u.status = Status{Name: cfg.Name, Service: cfg.Service.Name, State: StateListening, Since: time.Now()}
	if w := deps.Watcher; w != nil {
		u.fdstore.unwatch = func(fd int) { w.Remove(fd) }
	}
	return u
}

// Name returns the unit's name.
func (u *Unit) Name() string { return u.name }

// Config returns the newest settings given to the unit; after
// Reconfigure they apply from the next start of the service.
func (u *Unit) Config() *units.Unit {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.latest
}

// Listeners returns the unit's listeners, in declaration order.
func (u *Unit) Listeners() []*activation.Listener { return u.listeners }

// Trigger tells the unit that one of its listeners became readable. It
// never blocks; it is what the Watcher's callback calls.
func (u *Unit) Trigger() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.makeChans()
	select {
	case u.triggerC <- struct{}{}:
	default:
	}
	u.wakeLocked()
}

// runQueue is the unit's goroutine for an Accept=no unit, whose service
// takes the connections from the listeners' queues. It returns true when
// the goroutine went to sleep (wake.go) and must return at once; false
// when ctx is done, after stopping the service, or when new settings with
// Accept=yes took effect (which happens only while no service process
// runs).
func (u *Unit) runQueue(ctx context.Context) (asleep bool) {
	for !u.cfg.Socket.Accept {
		if u.sleep(u.main == nil && u.timer == nil && !u.pollPaused()) {
			return true
		}
		select {
		case <-ctx.Done():
			if u.main != nil {
				u.stopService(ctx, u.stopReason())
			}
			return false
		case <-u.triggerC:
			if u.state == StateListening && u.pollAllowed(time.Now()) {
				u.activate(ctx)
			}
		case <-u.pollResumeC():
			u.pollResume()
		case <-u.hupC:
			u.dropHungUp()
		case st, ok := <-u.main.exitC():
			u.mainExited(ctx, st, ok)
		case msg := <-u.main.notifyC():
			u.notified(msg)
		case <-u.main.watchdogC():
			u.watchdogFired(ctx)
		case <-u.timerC():
			u.timerFired(ctx)
		case <-u.reqC:
			u.serveRequest(ctx, u.handle, nil)
		}
	}
	return false
}

// Close closes the listeners and removes their file system nodes when
// the unit has RemoveOnStop=, and marks the unit stopped. Call it after
// Stop (or Run) returned; calling it again does nothing.
func (u *Unit) Close() {
	u.Stop()         // for a unit never started: requests fail from now on
	u.clearFDStore() // the socket stops: the fd store goes with it
	u.stopPollPause()
	if u.Status().State == StateStopped {
		return
	}
	u.setState(StateStopped, "")
	hooks := len(u.listeners) > 0 // a supervisor made stopped has run none
	if hooks {
		u.runStopCommands("ExecStopPre") // socket_commands.go
	}
	for _, l := range u.listeners {
		if err := l.Close(); err != nil {
			u.logger().Warn("closing listener", "listen", l.Spec().Address.String(), "err", err)
		}
		if err := l.Remove(); err != nil {
			u.logger().Warn("removing socket node", "listen", l.Spec().Address.String(), "err", err)
		}
	}
	if hooks {
		u.runStopCommands("ExecStopPost")
	}
}

// watch arms the listeners on the watcher.
func (u *Unit) watch() {
	for _, l := range u.listeners {
		if err := u.deps.Watcher.Add(l.Fd(), u); err != nil {
			u.logger().Error("watching listener", "listen", l.Spec().Address.String(), "err", err)
		}
	}
}

// rearm watches the listeners again after the service stopped.
func (u *Unit) rearm() {
	for _, l := range u.listeners {
		if err := u.deps.Watcher.Rearm(l.Fd()); err != nil {
			u.logger().Error("re-arming listener", "listen", l.Spec().Address.String(), "err", err)
		}
	}
}

func (u *Unit) unwatch() {
	for _, l := range u.listeners {
		if err := u.deps.Watcher.Remove(l.Fd()); err != nil {
			u.logger().Warn("unwatching listener", "listen", l.Spec().Address.String(), "err", err)
		}
	}
}

// setState records a state change in the status snapshot.
func (u *Unit) setState(s State, result string) {
	u.state = s
	u.releaseSandbox(s)
	u.mu.Lock()
	u.status.State, u.status.Since = s, time.Now()
	if result != "" {
		u.status.Result = result
	}
	u.mu.Unlock()
}

// goListening returns to the idle state and watches the listeners again.
func (u *Unit) goListening() {
	u.setState(StateListening, "")
	u.removeRuntimeDirs(false)
	u.removeCgroup()
	u.applyPending()
	u.flushPending() // polllimit.go
	if !u.pollPaused() {
		u.rearm()
	}
}
