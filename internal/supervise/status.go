package supervise

import (
	"context"
	"errors"
	"time"

	"github.com/sockd/sockd/units"
)

// Status is a snapshot of a unit, for logs and the control API.
type Status struct {
	Name    string
	Service string
	State   State
	// Result is systemd's result of the last transition: "success",
	// "exit-code", "signal", "core-dump", "timeout", "resources",
	// "trigger-limit-hit" or "start-limit-hit".
	Result      string
	Since       time.Time
	MainPID     int
	Activations int    // starts caused by traffic
	Restarts    int    // automatic restarts (Restart=)
	StatusText  string // the service's last STATUS=
	// Condition is the Condition*=, Assert*= or ExecCondition= that
	// failed at the last start, "" when they held (conditions.go).
	Condition string
	// NotifiedMainPID is the last MAINPID= the service sent; sockd then
	// supervises that process as the main process (types.go).
	NotifiedMainPID int
	LastExit        *Exit

	// Accept=yes units (see Instances for the live instances):
	Accepted    int // connections given an instance (systemd's Accepted:)
	Refused     int // connections closed at once: over MaxConnections= or MaxConnectionsPerSource=
	Connections int // live instances (systemd's Connected:)

	// FDStore lists the fd store (FDSTORE=1, fdstore.go) in insertion
	// order, the order the service gets the fds in.
	FDStore []StoredFD

	// DrainingPIDs are the old main processes that a graceful restart
	// replaced and that are being stopped (graceful.go), oldest first.
	DrainingPIDs []int
}

// Status returns a snapshot of the unit's state.
func (u *Unit) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.status
	if s.LastExit != nil {
		e := *s.LastExit
		s.LastExit = &e
	}
	s.FDStore = append([]StoredFD(nil), s.FDStore...)
	s.DrainingPIDs = append([]int(nil), s.DrainingPIDs...)
	return s
}

// Op is an operation requested on a running unit.
type Op int

// The operations Do accepts.
const (
	OpStart   Op = iota // start the service now, without waiting for traffic
	OpStop              // stop the service; the listeners stay open and watched
	OpRestart           // stop, then start; the listeners stay open throughout
	OpReset             // clear a failed state and watch the listeners again
	// OpGracefulRestart starts a new instance beside the running one and
	// stops the old one once the new one is ready (graceful.go); Do
	// returns an error if the new instance failed and the old one was
	// kept.
	OpGracefulRestart
	// OpReload runs ExecReload= (reload.go); Do returns its failure.
	OpReload
)

// opReconfigure replaces the unit's settings (see Reconfigure).
const opReconfigure Op = -1

type request struct {
	op   Op
	cfg  *units.Unit // for opReconfigure
	park *Parked     // for opPark
	// stored receives the fd store's duplicates, for opStoredFiles.
	stored *[]SavedFD
	reply  chan error
}

// ErrStopped is returned by Do once the unit's supervision was stopped
// (Stop or Close, or its context is done). It is not the state of the
// service: a unit that supervises a service that is not running answers
// Do as usual.
var ErrStopped = errors.New("unit supervision stopped")

// Do performs op on the unit and waits until it is done.
func (u *Unit) Do(ctx context.Context, op Op) error {
	return u.send(ctx, request{op: op, reply: make(chan error, 1)})
}

// Reconfigure gives the unit new settings whose listeners are the same
// (same addresses and bind options, in the same order): a reload that
// changed only the service or the activation settings. The running
// service is left alone; the new settings apply from its next start.
func (u *Unit) Reconfigure(ctx context.Context, cfg *units.Unit) error {
	u.mu.Lock()
	u.latest = cfg
	u.mu.Unlock()
	return u.send(ctx, request{op: opReconfigure, cfg: cfg, reply: make(chan error, 1)})
}

// send queues req for the unit's goroutine (wake.go) and waits for the
// reply. If ctx ends first, a request not yet taken is withdrawn; one
// taken is carried out anyway.
func (u *Unit) send(ctx context.Context, req request) error {
	if !u.queue(req) {
		return ErrStopped
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		u.withdraw(req)
		return ctx.Err()
	}
}

func (u *Unit) handle(ctx context.Context, req request) error {
	switch req.op {
	case opStoredFiles:
		var err error
		*req.stored, err = u.dupStore()
		return err
	case opReconfigure:
		u.pending = req.cfg
		u.applyPending()
	case OpStop:
		u.stopTimer()
		if u.main != nil {
			u.stopService(ctx, "requested")
		} else if u.state == StateRunning { // Type=oneshot, RemainAfterExit=yes
			u.stopExited(ctx)
		} else if u.state == StateAutoRestart {
			u.goListening()
		}
		u.waitDrained()
	case OpRestart:
		u.stopTimer()
		if u.main != nil {
			u.restarting = true
			u.stopService(ctx, "restart requested")
			u.restarting = false
		} else if u.state == StateRunning {
			u.stopExited(ctx)
		}
		u.startService(ctx, startRequested)
	case OpStart:
		if u.main == nil {
			u.stopTimer()
			u.startService(ctx, startRequested)
		}
	case OpReset:
		if u.state == StateFailed {
			if err := u.reopenListeners(); err != nil { // refuse.go
				return err
			}
			u.triggers.reset()
			u.starts.reset()
			u.goListening()
		}
	case OpGracefulRestart:
		return u.gracefulRestart(ctx)
	case OpReload:
		return u.reloadService(ctx)
	}
	return nil
}

// applyPending switches to reconfigured settings once no service process
// is running under the old ones.
func (u *Unit) applyPending() {
	if u.pending == nil || u.main != nil || u.state == StateStarting || u.state == StateStopping {
		return
	}
	u.useConfig(u.pending)
}

// useConfig switches to cfg, the settings given last (see Reconfigure).
func (u *Unit) useConfig(cfg *units.Unit) {
	u.cfg, u.pending = cfg, nil
	u.triggers.interval, u.triggers.burst = u.cfg.Socket.TriggerLimitInterval, u.cfg.Socket.TriggerLimitBurst
	u.setPollLimit()
	u.mu.Lock()
	u.status.Service = u.cfg.Service.Name
	u.mu.Unlock()
	u.log.Info("new settings in effect")
}
