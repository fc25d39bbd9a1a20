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

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// Config is what the daemon needs to start.
type Config struct {
	UnitDirs   []string // lowest priority first
	RuntimeDir string
	Log        *slog.Logger
}

// Daemon is a running sockd. Create it with New, then call Run.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	reaper  *reaper.Reaper
	watcher *activation.Watcher

	// mu guards units and runCtx, and serialises Reload with shutdown.
	mu      sync.Mutex
	units   map[string]*running
	invalid map[string][]error // units left out at the last load, with why
	runCtx  context.Context    // set by Run; nil before and after
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
	d := &Daemon{cfg: cfg, log: cfg.Log, units: map[string]*running{}}
	// The runtime directory holds the control and handoff sockets: it is
	// private (ServeControl opens it to a configured group). Services
	// that dropped privileges reach their NOTIFY_SOCKETs anyway, since
	// those are abstract (see notifyDir).
	if err := os.MkdirAll(cfg.RuntimeDir, 0o700); err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	if err := os.Chmod(cfg.RuntimeDir, 0o700); err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	r, err := reaper.New(cfg.Log)
	if err != nil {
		return nil, err
	}
	w, err := activation.NewWatcher(func(key any) { key.(*supervise.Unit).Trigger() })
	if err != nil {
		r.Stop()
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
	res := unitdir.Load(d.cfg.UnitDirs, units.DefaultSpecifierEnv())
	for _, err := range units.Errors(res.Err()) {
		d.log.Error("invalid unit", "err", err)
	}
	d.invalid = res.Invalid
	inherited := inheritedFDs(d.log)
	defer inherited.closeUnused(d.log)
	ls, errs := inherited.bindAll(res.Units)
	for i, u := range res.Units {
		if errs[i] != nil {
			d.log.Error("unit failed", "unit", u.Name+".socket", "err", errs[i])
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
	return supervise.New(u, ls, supervise.Deps{Reaper: d.reaper, Watcher: d.watcher, Log: d.log, NotifyDir: d.notifyDir()})
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

// Run supervises every unit until ctx is done, then stops every service
// gracefully, closes the listeners and returns.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	d.runCtx = ctx
	for _, r := range d.units {
		if !r.stopped() {
			r.start(ctx)
		}
	}
	d.log.Info("sockd ready", "units", len(d.units), "runtime_dir", d.cfg.RuntimeDir)
	d.mu.Unlock()
	// Loading the units made several times more garbage than what stays
	// (about 10 KB per unit against 2.3), and the heap grew to hold it.
	// Return that memory to the system once, now, rather than keep about
	// twice the live heap resident while idle: with 10,000 units, RSS 54-58
	// → 40 MB. It is a full GC, about 20-40 ms, after "ready" so that it
	// does not delay the listeners.
	debug.FreeOSMemory()
	<-ctx.Done()
	d.log.Info("stopping")
	d.mu.Lock()
	defer d.mu.Unlock()
	d.runCtx = nil
	for _, r := range d.units {
		r.stop() // ctx is done: every supervisor is stopping its service
		r.sup.Close()
	}
	err := d.watcher.Close()
	d.reaper.Stop()
	return err
}
