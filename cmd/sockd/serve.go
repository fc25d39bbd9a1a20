package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/daemon"
	"github.com/sockd/sockd/internal/logring"
	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units/unitdir"
)

// serve runs the daemon in the foreground until SIGTERM or SIGINT.
func serve(o options, stderr io.Writer) int {
	log, err := newLogger(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sockd:", err)
		return 2
	}
	for _, dir := range unitDirsMissing(o) {
		log.Warn("no unit directory; sockd runs no unit from it until it exists and sockctl reload", "dir", dir)
	}
	ring := logring.New(logring.LogSize) // the last lines of each unit, for sockctl status and logs
	log = slog.New(ring.Handler(log.Handler()))
	if err := loadRing(ring); err != nil { // loghandover.go
		log.Warn("cannot read the units' logs the previous sockd handed over", "err", err)
	}
	runtimeDir, err := control.ResolveRuntimeDir(o.runtimeDir)
	if err != nil {
		fmt.Fprintln(stderr, "sockd:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()
	g, ok := previousGeneration(ctx, o, runtimeDir, log)
	if !ok {
		return 1
	}
	binary, err := os.Executable()
	if err != nil {
		log.Warn("cannot tell which binary sockd runs; sockctl upgrade will need --binary", "err", err)
	}
	d, err := daemon.New(daemon.Config{
		UnitDirs: o.unitDirs, SystemdUnits: o.systemdUnits, RuntimeDir: runtimeDir, Log: log,
		Version: sockdVersion(), Binary: binary, Args: o.args, Handover: g.handover,
		IdleProcs: idleProcs(), BeforeExec: saveRing(ring, log),
	})
	if err != nil {
		g.cannotStart(err, nil)
		return 1
	}
	if o.takeover && !g.takeOver(d) {
		return 1
	}
	ccfg := daemon.ControlConfig{Group: o.controlGroup, Ring: ring}
	if o.metrics || o.metricsListen != "" {
		m := d.NewMetrics().Handler()
		if o.metrics {
			ccfg.Metrics = m
		}
		if o.metricsListen != "" {
			// Metrics never stop sockd from serving: during a --takeover
			// the old sockd may still hold the address.
			if stopMetrics, err := serveMetricsTCP(o.metricsListen, m, log); err != nil {
				log.Error("metrics not served on TCP", "err", err)
			} else {
				defer stopMetrics()
			}
		}
	}
	stopSockets, ok := serveSockets(ctx, d, g, ccfg, runtimeDir)
	if !ok {
		return 1
	}
	defer stopSockets()
	switch {
	case g.in != nil:
		d.Restore()
	case !o.takeover:
		d.Load()
	}
	restored := finishRestore(ctx, d)
	defer func() { <-restored }()
	reloadDone := reloadOnSIGHUP(ctx, d, log)
	defer func() {
		stop() // Run may return before a signal (a takeover): end the SIGHUP loop
		<-reloadDone
	}()
	if err := d.Run(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}

// serveSockets serves the control socket, then the handoff socket (its
// lock keeps a second sockd off this runtime directory). A socket that
// cannot be served ends sockd, after an upgrade by a rollback, unless
// this image is itself a rollback (generation.cannotServe).
func serveSockets(ctx context.Context, d *daemon.Daemon, g *generation, cfg daemon.ControlConfig, runtimeDir string) (stop func(), ok bool) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if g.in != nil {
		waitControlLock(runtimeDir, g.log)
	}
	stopControl, err := func() (func(), error) {
		if testFault == "control" && g.in != nil && g.in.RolledBack == "" {
			return nil, errors.New("control socket: injected fault (a test build)")
		}
		return d.ServeControl(ctx, cfg)
	}()
	if err != nil {
		return stop, g.cannotStart(err, d)
	}
	stops = append(stops, stopControl)
	stopHandoff, err := d.ServeHandoff(ctx)
	if err != nil {
		return stop, g.cannotStart(err, d)
	}
	stops = append(stops, stopHandoff)
	return stop, true
}

func newLogger(o options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, not %q", o.logFormat)
}

// reloadOnSIGHUP reloads the units on each SIGHUP until ctx is done; the
// returned channel is closed when its goroutine has stopped.
func reloadOnSIGHUP(ctx context.Context, d *daemon.Daemon, log *slog.Logger) <-chan struct{} {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := d.Reload(ctx); err != nil {
					log.Error("reload failed", "err", err)
				}
			}
		}
	}()
	return done
}

// upgradeCheck implements --upgrade-check: the running sockd runs it with
// a new binary before an upgrade, and reads its last line.
func upgradeCheck(o options, stdout, stderr io.Writer) int {
	runtimeDir, err := control.ResolveRuntimeDir(o.runtimeDir)
	if err != nil {
		fmt.Fprintln(stderr, "sockd:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	upgrade.FailCheckDecode = testFault == "state"
	load := func() *unitdir.Result { return daemon.LoadUnits(o.unitDirs, o.systemdUnits) }
	res, passed, err := upgrade.CheckState(load, sockdVersion())
	if !passed { // a sockd older than the state check asks
		res, err = upgrade.CheckByTakeover(ctx, runtimeDir, load, sockdVersion())
	}
	if err != nil {
		fmt.Fprintln(stderr, "sockd: upgrade check:", err)
		return 1
	}
	json.NewEncoder(stdout).Encode(res)
	return 0
}

// idleProcs is how many processors run sockd's Go code once it is ready
// (daemon.Config.IdleProcs): one, unless GOMAXPROCS is set, which then
// applies throughout. sockd waits far more than it computes; with one
// processor its goroutines hand work to each other on one thread instead
// of waking idle threads to steal it.
func idleProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return 0
	}
	return 1
}
