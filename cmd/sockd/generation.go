package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/daemon"
	"github.com/sockd/sockd/internal/upgrade"
)

// generation is what this sockd takes over from a previous generation,
// if anything: the state an upgrade handed over across the execve (in),
// or the conversation of a takeover.
type generation struct {
	in       *upgrade.Inherited
	handover *daemon.Handover
	takeover bool
	args     []string // sockd's arguments, for a rollback
	log      *slog.Logger
}

// previousGeneration reads what an upgrade handed over, or takes over
// from the sockd serving runtimeDir (--takeover). It reports false if
// sockd cannot go on.
func previousGeneration(ctx context.Context, o options, runtimeDir string, log *slog.Logger) (*generation, bool) {
	g := &generation{takeover: o.takeover, args: o.args, log: log}
	upgrade.FailDecode = testFault == "decode" || testFault == "state"
	in, err := upgrade.ReadInherited() // set when an upgrade re-executed sockd
	if err != nil {
		log.Error("cannot read what the previous sockd handed over", "err", err)
		if in != nil {
			log.Error("cannot roll back", "err", in.Rollback(err.Error(), o.args))
		}
		return g, false
	}
	if in != nil {
		g.in, g.handover = in, daemon.FromInherited(in)
		if in.RolledBack != "" {
			log.Error("the new sockd could not start: this is the previous binary again, with the same state", "reason", in.RolledBack)
		}
	}
	if o.takeover {
		if g.handover, err = daemon.Takeover(ctx, runtimeDir); err != nil {
			log.Error("cannot take over", "err", err)
			return g, false
		}
	}
	return g, true
}

// takeOver loads the units from what the old sockd lent, and lets it go
// only if every unit is valid (the old sockd holds the control socket
// until then). It reports false if sockd cannot go on.
func (g *generation) takeOver(d *daemon.Daemon) bool {
	d.Restore()
	if invalid := d.Invalid(); len(invalid) > 0 {
		g.handover.Abort(fmt.Sprintf("%d unit(s) invalid", len(invalid)))
		g.log.Error("takeover aborted: invalid units; the running sockd goes on", "units", len(invalid))
		return false
	}
	if err := g.handover.Commit(); err != nil {
		g.log.Error("cannot take over", "err", err)
		return false
	}
	return true
}

// cannotStart handles what sockd cannot do to start (d is nil before
// the daemon exists). After an upgrade the previous binary is
// re-executed with the same state, so that the units go on: then it
// returns only if that failed. An image that a rollback started goes on
// without the socket that failed (keepGoing): its units are served,
// and sockctl cannot reach it until it restarts.
func (g *generation) cannotStart(err error, d *daemon.Daemon) (keepGoing bool) {
	switch {
	case g.takeover && d == nil:
		g.log.Error("cannot start", "err", err)
		g.handover.Abort(err.Error())
	case g.in == nil:
		g.log.Error("cannot start", "err", err)
	case g.in.RolledBack != "" && d != nil:
		g.log.Error("serving the units without this socket: the previous sockd was restored, and cannot serve it either", "err", err)
		return true
	case d == nil:
		g.log.Error("cannot start", "err", err)
		g.log.Error("cannot roll back", "err", g.in.Rollback(err.Error(), g.args))
	default:
		g.log.Error("cannot start", "err", err)
		g.log.Error("cannot roll back", "err", d.RollBack(err.Error()))
	}
	return false
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

// testFault, set with -ldflags "-X main.testFault=…" in a build made by
// the upgrade tests only, makes an upgraded image fail: "control" as if
// its control socket could not bind (the rollback), "decode" as if it
// could not decode the state (the adoption by matching), "state" as if
// neither the check nor the image could (the refusal).
var testFault string
