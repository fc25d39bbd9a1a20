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
	"path/filepath"
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

	mu    sync.Mutex
	units map[string]*supervise.Unit
}

// New prepares the runtime directory, starts the reaper and the listener
// watcher, loads every unit and binds the listeners of the valid ones.
func New(cfg Config) (*Daemon, error) {
	d := &Daemon{cfg: cfg, log: cfg.Log, units: map[string]*supervise.Unit{}}
	if err := os.MkdirAll(d.notifyDir(), 0o755); err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	// The notify directory must be reachable by services that dropped
	// privileges; each NOTIFY_SOCKET checks its sender's credentials.
	for _, dir := range []string{cfg.RuntimeDir, d.notifyDir()} {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, fmt.Errorf("runtime directory: %w", err)
		}
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
	d.load()
	return d, nil
}

func (d *Daemon) notifyDir() string { return filepath.Join(d.cfg.RuntimeDir, "notify") }

// load reads the unit directories and binds each valid unit.
func (d *Daemon) load() {
	res := unitdir.Load(d.cfg.UnitDirs, units.DefaultSpecifierEnv())
	for _, err := range units.Errors(res.Err()) {
		d.log.Error("invalid unit", "err", err)
	}
	inherited := inheritedFDs(d.log)
	defer inherited.closeUnused(d.log)
	deps := supervise.Deps{Reaper: d.reaper, Watcher: d.watcher, Log: d.log, NotifyDir: d.notifyDir()}
	for _, u := range res.Units {
		ls, err := inherited.adoptOrBind(u)
		if err != nil {
			d.log.Error("unit failed", "unit", u.Name+".socket", "err", err)
			continue
		}
		for _, l := range ls {
			for _, w := range l.Warnings {
				d.log.Warn("socket option not applied", "unit", u.Name+".socket", "listen", l.Spec().Address.String(), "err", w)
			}
		}
		d.units[u.Name] = supervise.New(u, ls, deps)
		d.log.Info("listening", "unit", u.Name+".socket", "summary", u.Summary())
	}
}

// Units returns the supervisors of the loaded units.
func (d *Daemon) Units() []*supervise.Unit {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*supervise.Unit, 0, len(d.units))
	for _, u := range d.units {
		out = append(out, u)
	}
	return out
}

// Run supervises every unit until ctx is done, then stops every service
// gracefully, closes the listeners and returns.
func (d *Daemon) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, u := range d.Units() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.Run(ctx)
		}()
	}
	d.log.Info("sockd ready", "units", len(d.units), "runtime_dir", d.cfg.RuntimeDir)
	<-ctx.Done()
	d.log.Info("stopping")
	wg.Wait()
	for _, u := range d.Units() {
		u.Close()
	}
	err := d.watcher.Close()
	d.reaper.Stop()
	return err
}
