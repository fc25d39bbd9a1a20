// Package daemon owns sockd's live unit set: it loads the units, binds
// every listener of every valid unit, runs one supervisor per unit, and
// shuts everything down in order. One bad unit never takes the others
// down: a unit that fails to load or to bind is logged and left out.
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
	// generation (ReadHandover or Takeover): Load adopts its listeners,
	// fd stores and running processes instead of starting afresh.
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
	started    time.Time // when generation 1 started
	upgraded   time.Time // when this generation took over
	upgradeMu  sync.Mutex
	execC      chan execRequest // Upgrade's commit to Run
	runDone    chan struct{}    // closed when Run returns
	cancelRun  context.CancelFunc
	takenOver  bool        // a new sockd took over: leave the socket nodes
	ready      atomic.Bool // Run supervises the units
	procs      *procs      // processors for Go code: all in bursts, IdleProcs between
	// unread is set when Load restored the units from the handover's
	// settings: Run then reads the unit files (reloadAfterUpgrade).
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
		execC: make(chan execRequest), runDone: make(chan struct{}),
		procs: newProcs(cfg.IdleProcs),
	}
	if h := cfg.Handover; h != nil {
		d.generation, d.upgraded = h.Generation+1, d.started
		if !h.Started.IsZero() {
			d.started = h.Started
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
// the units use up the fd limit).
func (d *Daemon) Load() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.restoreSaved() { // upgrade.go: the files are read after Run started
		return
	}
	d.cfg.Handover.gcOn() // upgrade.go
	res := d.loadUnits()
	for _, err := range units.Errors(res.Err()) {
		d.log.Error("invalid unit", "err", err)
	}
	d.invalid = res.Invalid
	d.masked = res.Masked
	inherited := inheritedFDs(d.log)
	defer inherited.closeUnused(d.log)
	if h := d.cfg.Handover; h != nil {
		d.log.Info("taking over from the previous sockd", "previous_generation", h.Generation, "previous_binary", h.Binary, "previous_version", h.Version, "units", len(h.Units))
		defer d.dropHandover(h)
	}
	var fresh []*units.Unit
	for _, u := range res.Units {
		if done, err := d.restore(u); done {
			if err != nil {
				d.log.Error("unit failed", "unit", u.Name+".socket", "err", err)
			}
			continue
		}
		fresh = append(fresh, u)
	}
	ls, errs := inherited.bindAll(fresh)
	for i, u := range fresh {
		if errs[i] != nil {
			d.failBind(u, errs[i]) // bindfail.go
			continue
		}
		d.units[u.Name] = &running{sup: d.supervisor(u, ls[i])}
	}
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
	d.cfg.Handover.gcOn()                 // upgrade.go
	reloaded := d.reloadAfterUpgrade(ctx) // upgrade.go
	defer func() { <-reloaded }()
	d.log.Info("sockd ready", "units", len(d.units)-d.bindFailed.count(), "failed", d.bindFailed.count(), "runtime_dir", d.cfg.RuntimeDir, "generation", d.generation, "pid", os.Getpid())
	d.notifyManager("READY=1") // sdnotify.go
	d.mu.Unlock()
	d.cfg.Handover.closeOldEpoll() // upgrade.go
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
