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
	"path/filepath"
	"syscall"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/daemon"
	"github.com/sockd/sockd/internal/logring"
	"github.com/sockd/sockd/internal/upgrade"
)

// serve runs the daemon in the foreground until SIGTERM or SIGINT.
func serve(o options, stderr io.Writer) int {
	log, err := newLogger(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sockd:", err)
		return 2
	}
	ring := logring.New(logring.DefaultSize) // the last lines of each unit, for sockctl status
	log = slog.New(ring.Handler(log.Handler()))
	runtimeDir, err := control.ResolveRuntimeDir(o.runtimeDir)
	if err != nil {
		fmt.Fprintln(stderr, "sockd:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	upgrade.FailDecode = testFault == "decode"
	in, err := upgrade.ReadInherited() // set when an upgrade re-executed sockd
	if err != nil {
		log.Error("cannot read what the previous sockd handed over", "err", err)
		if in != nil {
			log.Error("rolling back to the previous binary", "err", in.Rollback(err.Error(), o.args))
		}
		return 1
	}
	var handover *daemon.Handover
	if in != nil {
		handover = daemon.FromInherited(in)
		if in.RolledBack != "" {
			log.Error("the new sockd could not start: this is the previous binary again, with the same state", "reason", in.RolledBack)
		}
	}
	if o.takeover {
		if handover, err = daemon.Takeover(ctx, runtimeDir); err != nil {
			log.Error("cannot take over", "err", err)
			return 1
		}
	}
	binary, err := os.Executable()
	if err != nil {
		log.Warn("cannot tell which binary sockd runs; sockctl upgrade will need --binary", "err", err)
	}
	d, err := daemon.New(daemon.Config{
		UnitDirs: o.unitDirs, RuntimeDir: runtimeDir, Log: log,
		Version: version, Binary: binary, Args: o.args, Handover: handover,
		IdleProcs: idleProcs(),
	})
	if err != nil {
		log.Error("cannot start", "err", err)
		if o.takeover {
			handover.Abort(err.Error())
		} else if in != nil {
			log.Error("cannot roll back", "err", in.Rollback(err.Error(), o.args))
		}
		return 1
	}
	// cannotServe handles a socket of sockd's own that cannot be served.
	// After an upgrade, the previous binary is re-executed with the same
	// state, so that the units go on (it returns only if that failed).
	// An image that a rollback started goes on without that socket: its
	// units are served, and sockctl cannot reach it until it restarts.
	cannotServe := func(err error) (keepGoing bool) {
		if in == nil {
			log.Error("cannot start", "err", err)
			return false
		}
		if in.RolledBack != "" {
			log.Error("serving the units without this socket: the previous sockd was restored, and cannot serve it either", "err", err)
			return true
		}
		log.Error("cannot start", "err", err)
		log.Error("cannot roll back", "err", d.RollBack(err.Error()))
		return false
	}
	if o.takeover {
		// The old sockd holds the control socket until it lets go:
		// load first, and let it go only if every unit is valid.
		d.Restore()
		if invalid := d.Invalid(); len(invalid) > 0 {
			handover.Abort(fmt.Sprintf("%d unit(s) invalid", len(invalid)))
			log.Error("takeover aborted: invalid units; the running sockd goes on", "units", len(invalid))
			return 1
		}
		if err := handover.Commit(); err != nil {
			log.Error("cannot take over", "err", err)
			return 1
		}
	}
	if in != nil {
		waitControlLock(runtimeDir, log)
	}
	stopControl, err := func() (func(), error) {
		if testFault == "control" && in != nil && in.RolledBack == "" {
			return nil, errors.New("control socket: injected fault (a test build)")
		}
		return d.ServeControl(ctx, daemon.ControlConfig{Group: o.controlGroup, Ring: ring})
	}()
	if err != nil && !cannotServe(err) {
		return 1
	}
	if err == nil {
		defer stopControl()
		// After ServeControl: its lock file keeps a second sockd off this
		// runtime directory.
		stopHandoff, err := d.ServeHandoff(ctx)
		if err != nil && !cannotServe(err) {
			return 1
		}
		if err == nil {
			defer stopHandoff()
		}
	}
	switch {
	case in != nil:
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
	res, passed, err := upgrade.CheckState(o.unitDirs, version)
	if !passed { // a sockd older than the state check asks
		res, err = daemon.RunTakeoverCheck(ctx, runtimeDir, o.unitDirs, version)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sockd: cannot take over:", err)
		return 1
	}
	json.NewEncoder(stdout).Encode(res)
	return 0
}

// finishRestore runs d.FinishRestore once Run watches the units; the
// returned channel is closed when it is done, or at once if ctx ends
// first.
func finishRestore(ctx context.Context, d *daemon.Daemon) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-d.Ready():
			d.FinishRestore(ctx)
		case <-ctx.Done():
		}
	}()
	return done
}

// waitControlLock waits, for a second at most, until the control
// socket's lock is free. After an upgrade, a service that the previous
// image started just before it re-executed may still hold a copy of the
// lock's fd, until its own execve closes it (the kernel clears the
// spawn's futex word before it closes the fds marked close-on-exec).
func waitControlLock(runtimeDir string, log *slog.Logger) {
	f, err := os.OpenFile(filepath.Join(runtimeDir, control.SocketName+".lock"), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return // ServeControl says why
	}
	defer f.Close()
	start := time.Now()
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Since(start) > time.Second {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	if waited := time.Since(start); waited > time.Millisecond {
		log.Warn("the control socket's lock was held for a while after the upgrade", "waited", waited)
	}
}

// testFault, set with -ldflags "-X main.testFault=…" in a build made by
// the upgrade tests only, makes an upgraded image fail: "control" as if
// its control socket could not bind (the rollback), "decode" as if it
// could not decode the state (the adoption by matching).
var testFault string

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
