// Package daemon owns sockd's live unit set: it loads the units, binds
// every listener of every valid unit, runs one supervisor per unit
// (internal/supervise), reloads (load, validate, diff, apply), and shuts
// everything down in order. One bad unit never takes the others down: a
// unit that fails to load or to bind is logged and left out. It also
// serves the control API's backend and the handoff socket, and starts
// upgrades and takeovers, whose state (what crosses an execve or goes to
// another process) is moving into internal/upgrade.
//
// # Words
//
// One word per idea, in code, docs and logs:
//
//   - generation: one exec image of sockd. The first is 1; each upgrade
//     or takeover starts the next.
//   - upgrade: sockd re-executes itself in place (same pid), and the new
//     generation restores the units from the state the old one handed
//     over across the execve. Services keep running.
//   - takeover: another process receives a unit's fds over the handoff
//     socket: a new sockd started with --takeover (which then becomes the
//     next generation), or any permitted program (handoff.Listeners).
//   - handoff: the mechanism, not an event: named fds over an AF_UNIX
//     socket with SCM_RIGHTS (package handoff, RUNTIME_DIR/handoff.sock).
//     A takeover uses it; an upgrade in place does not need it.
//   - adopt: use an fd or a process that already exists instead of
//     creating one: a listener inherited through LISTEN_FDS or from the
//     previous generation (activation.BindWith, BindOwning), a service a
//     previous generation started (reaper.Adopt, spawn.Adopt). A reload
//     does not adopt its own listeners: it keeps them (activation.Rebind).
//   - park: a unit stops acting on its listeners for a moment (no
//     activation, no accept) while its state is saved for an upgrade or
//     its fds are handed over, and resumes if that fails
//     (supervise.Unit.Park, Parked.Resume).
//   - keep: a reload keeps a listener whose settings did not change (same
//     units.Fingerprint): same socket, no refused connection.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/metrics"
	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/rundir"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// Config is what the daemon needs to start.
type Config struct {
	UnitDirs   []string // lowest priority first
	RuntimeDir string
	Log        *slog.Logger

	// SystemdUnits says that UnitDirs are systemd's unit search path, of
	// which only the enabled socket units are loaded (source.go).
	SystemdUnits bool

	// Version is sockd's version, shown by the control API.
	Version string
	// Binary is the path sockd was started from: what an upgrade
	// re-executes by default. Args are its arguments, for the new image.
	Binary string
	Args   []string
	// Handover, if set, is what this sockd takes over from a previous
	// generation (FromInherited or Takeover): Restore adopts its
	// listeners, fd stores and running processes.
	Handover *Handover
	// IdleProcs, if positive, is how many processors run sockd's Go code
	// once it is ready, between the bursts of work (loading, reloading,
	// upgrading) that use every CPU (procs.go).
	IdleProcs int
	// BeforeExec, if set, runs just before an upgrade re-executes sockd;
	// undo runs if the execve failed. cmd/sockd hands the units' logs
	// to the new image with it.
	BeforeExec func() (undo func())
}

// Daemon is a running sockd. Create it with New, then call Run.
type Daemon struct {
	rundir  *rundir.Dir // the runtime directory, open
	cfg     Config
	log     *slog.Logger
	reaper  *reaper.Reaper
	watcher *activation.Watcher

	// mu guards units and runCtx, and serialises Reload with shutdown.
	mu      sync.Mutex
	units   map[string]*running
	invalid map[string][]error // units left out at the last load, with why
	masked  []string           // unit files found masked at the last load (source.go)
	runCtx  context.Context    // set by Run; nil before and after

	// Generations (upgrade.go, takeover.go).
	generation int
	binary     string
	started    time.Time        // when generation 1 started
	upgraded   time.Time        // when this generation took over
	upgrading  atomic.Bool      // an upgrade is being checked or executed
	execC      chan execRequest // Upgrade's request to Run
	runDone    chan struct{}    // closed when Run returns
	readyC     chan struct{}    // closed when Run supervises the units
	cancelRun  context.CancelFunc
	takenOver  bool        // a new sockd took over: leave the socket nodes
	ready      atomic.Bool // Run supervises the units
	procs      *procs      // processors for Go code: all in bursts, IdleProcs between
	// unread is set when Restore restored the units from their saved
	// settings: FinishRestore then reads the unit files.
	unread bool
	// stopControl stops the control server (set by ServeControl).
	stopControl func()

	// bindFailed are the loaded units whose listeners could not be bound
	// (bindfail.go).
	bindFailed bindFailures
	// metrics, if set, and counters serve /metrics (metrics.go).
	metrics  atomic.Pointer[metrics.Metrics]
	counters counters
}

// running is one unit's supervisor.
type running struct {
	sup *supervise.Unit
}

// start supervises r's unit under parent until r.stop. An idle unit
// holds no goroutine (see supervise.Unit.Start).
func (r *running) start(parent context.Context) { r.sup.Start(parent) }

// stopped reports whether the unit's socket was stopped (StopSocket).
func (r *running) stopped() bool { return r.sup.Status().State == supervise.StateStopped }

// stop stops the supervisor (and its service) and waits for it.
func (r *running) stop() { r.sup.Stop() }

// New prepares the runtime directory and starts the reaper and the
// listener watcher. Load then loads the units.
func New(cfg Config) (*Daemon, error) {
	d := &Daemon{
		cfg: cfg, log: cfg.Log, units: map[string]*running{},
		generation: 1, binary: cfg.Binary, started: time.Now(),
		execC: make(chan execRequest), runDone: make(chan struct{}), readyC: make(chan struct{}),
		procs: newProcs(cfg.IdleProcs),
	}
	if h := cfg.Handover; h != nil {
		d.generation, d.upgraded = 2, d.started
		if s := h.State; s != nil {
			d.generation = s.Generation + 1
			if !s.Started.IsZero() {
				d.started = s.Started
			}
		}
	}
	// The runtime directory holds the control and handoff sockets: it is
	// private (ServeControl opens it to a configured group), created and
	// checked by rundir, and kept open for the process's life. Services
	// that dropped privileges reach their NOTIFY_SOCKETs anyway, since
	// those are abstract (see notifyDir).
	rd, err := rundir.Open(cfg.RuntimeDir)
	if err != nil {
		return nil, err
	}
	d.rundir = rd
	r, err := reaper.New(cfg.Log)
	if err != nil {
		rd.Close()
		return nil, err
	}
	// Keys are supervisors (a listener is readable) and their fd store
	// entries (one hung up).
	w, err := activation.NewWatcher(func(key any) { key.(interface{ Trigger() }).Trigger() })
	if err != nil {
		r.Stop()
		rd.Close()
		return nil, err
	}
	d.reaper, d.watcher = r, w
	return d, nil
}

// notifyDir is the prefix of the services' NOTIFY_SOCKETs: abstract Unix
// socket names (unix(7)), which need no file system access, so a service
// running as another user can send to its socket while the runtime
// directory stays private. Each receiver checks its sender's
// SCM_CREDENTIALS against the service's session; sockd's pid keeps two
// sockd in one network namespace apart.
func (d *Daemon) notifyDir() string { return fmt.Sprintf("@sockd.%d/notify", os.Getpid()) }

// Load reads the unit directories and binds each valid unit; a unit that
// is invalid or cannot bind is logged and left out. Call it once, before
// Run (after ServeControl, so that the control socket exists even when
// the units use up the fd limit). A generation that takes over calls
// Restore instead.
func (d *Daemon) Load() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.load(inheritedFDs(d.log), nil)
}

// supervisor makes the supervisor of u with its bound listeners.
func (d *Daemon) supervisor(u *units.Unit, ls []*activation.Listener) *supervise.Unit {
	for _, l := range ls {
		for _, w := range l.Warnings {
			d.log.Warn("socket option not applied", "unit", u.Name+".socket", "listen", l.Spec().Address.String(), "err", w)
		}
	}
	d.log.Debug("listening", "unit", u.Name+".socket", "summary", u.Summary())
	return supervise.New(u, ls, d.deps())
}

// deps are what every supervisor uses of the daemon.
func (d *Daemon) deps() supervise.Deps {
	return supervise.Deps{Reaper: d.reaper, Watcher: d.watcher, Log: d.log, NotifyDir: d.notifyDir(), StartLatency: d.observeStart}
}

// Invalid returns the units left out at the last load because they are
// invalid, each with its problems (path:line: …).
func (d *Daemon) Invalid() map[string][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string][]string, len(d.invalid))
	for name, errs := range d.invalid {
		for _, err := range errs {
			out[name] = append(out[name], err.Error())
		}
	}
	return out
}

// Units returns the supervisors of the loaded units.
func (d *Daemon) Units() []*supervise.Unit {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*supervise.Unit, 0, len(d.units))
	for _, r := range d.units {
		out = append(out, r.sup)
	}
	return out
}

// Ready is closed once Run supervises the units.
func (d *Daemon) Ready() <-chan struct{} { return d.readyC }

// startAll starts the supervision of every unit whose socket is not
// stopped, on every CPU: starting one watches its listeners, a system
// call each (at 10,000 units after an upgrade, 20-25 ms on one CPU).
func (d *Daemon) startAll(ctx context.Context) {
	rs := make([]*running, 0, len(d.units))
	for _, r := range d.units {
		rs = append(rs, r)
	}
	parallel(len(rs), func(i int) {
		if !rs[i].stopped() {
			rs[i].start(ctx)
		}
	})
}

// Run supervises every unit until ctx is done, then stops every service
// gracefully, closes the listeners and returns. It returns early, with
// the services stopped but the socket nodes left in place, when a new
// sockd took over (takeover.go). An upgrade in place (Upgrade) replaces
// the process image from within Run.
func (d *Daemon) Run(ctx context.Context) error {
	defer close(d.runDone)
	ctx, d.cancelRun = context.WithCancel(ctx)
	defer d.cancelRun()
	d.mu.Lock()
	d.runCtx = ctx
	d.startAll(ctx)
	d.ready.Store(true)
	close(d.readyC)
	d.log.Info("sockd ready", "units", len(d.units)-d.bindFailed.count(), "failed", d.bindFailed.count(), "runtime_dir", d.cfg.RuntimeDir, "generation", d.generation, "pid", os.Getpid())
	d.notifyManager("READY=1") // sdnotify.go
	d.mu.Unlock()
	// Loading the units made several times more garbage than what stays
	// (about 10 KB per unit against 2.3), and the heap grew to hold it.
	// Return that memory to the system once, now, rather than keep about
	// twice the live heap resident while idle: with 10,000 units, RSS 54-58
	// → 40 MB. It is a full GC, about 20-40 ms, after "ready" so that it
	// does not delay the listeners.
	debug.FreeOSMemory()
	d.procs.settle()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case req := <-d.execC:
			d.execUpgrade(req) // returns only if the execve failed
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.takenOver {
		d.log.Info("a new sockd took over: stopping the services, leaving the listeners to it")
	} else {
		d.log.Info("stopping")
		d.notifyManager("STOPPING=1")
	}
	d.runCtx = nil
	for _, r := range d.units {
		r.stop() // ctx is done: every supervisor is stopping its service
		if d.takenOver {
			r.sup.Release()
		} else {
			r.sup.Close()
		}
	}
	err := d.watcher.Close()
	d.reaper.Stop()
	return err
}
