package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// activate handles the first readable event of an idle unit: it applies
// the trigger limit and starts the service. The connection that woke the
// unit stays queued for the service.
func (u *Unit) activate(ctx context.Context) {
	if !u.triggers.allow(time.Now()) {
		u.failTriggerLimit()
		return
	}
	u.mu.Lock()
	u.status.Activations++
	u.mu.Unlock()
	u.startService(ctx, startActivation)
}

// startCause says why startService runs; it is logged as the reason.
type startCause string

// The causes of a start. Only an automatic restart is refused by the
// start limit.
const (
	startActivation       startCause = "activation"
	startRequested        startCause = "requested"
	startRestart          startCause = "restart" // Restart=
	startGracefulNotAlive startCause = "graceful restart requested, not running"
)

// startService runs ExecStartPre=, the main process and, once it is
// ready, ExecStartPost=. On failure the unit goes back to listening (or
// to failed, if the start limit is hit).
func (u *Unit) startService(ctx context.Context, why startCause) {
	u.starts.interval, u.starts.burst = u.cfg.Service.Exits.StartLimitInterval, u.cfg.Service.Exits.StartLimitBurst
	if !u.starts.allow(time.Now()) && why == startRestart {
		u.log.Error("start limit hit, not restarting the service", "limit", fmt.Sprintf("%d in %s", u.starts.burst, u.starts.interval))
		u.setState(StateFailed, "start-limit-hit")
		u.refuseListeners() // refuse.go
		return
	}
	u.stopWanted = false
	u.applyPending()
	began := time.Now() // startlatency.go
	svc := &u.cfg.Service
	if !u.conditionsMet(ctx) {
		return
	}
	u.setupCgroup(svc)
	u.setState(StateStarting, "")
	u.log.Info("starting service", "service", svc.Name, "reason", why)
	if err := u.runCommands(ctx, svc, "ExecStartPre", svc.ExecStartPre, nil, svc.TimeoutStart); err != nil {
		u.startFailed(err, "exit-code")
		return
	}
	if svc.Type == units.TypeOneshot {
		u.startOneshot(ctx, svc)
		return
	}
	if err := u.spawnMain(svc); err != nil {
		u.startFailed(err, "resources")
		return
	}
	if !u.waitReady(ctx, svc) {
		return
	}
	if err := u.runCommands(ctx, svc, "ExecStartPost", svc.ExecStartPost, u.mainPIDEnv(), svc.TimeoutStart); err != nil {
		u.log.Error("ExecStartPost failed, stopping the service", "err", err)
		u.stopService(ctx, "ExecStartPost= failed")
		return
	}
	u.observeStart(time.Since(began))
	u.setState(StateRunning, "success")
	u.armWatchdog()
}

// startFailed records a start that never got a main process running.
func (u *Unit) startFailed(err error, result string) {
	u.log.Error("service failed to start", "service", u.cfg.Service.Name, "err", err)
	u.mu.Lock()
	u.status.Result = result
	u.mu.Unlock()
	u.runStopPost(result, nil)
	u.goListening()
}

// spawnMain starts the main process with the listeners.
func (u *Unit) spawnMain(svc *units.Service) error {
	p, err := u.spawnProcess(svc, true)
	if err != nil {
		return err
	}
	u.main = p
	u.mu.Lock()
	u.status.MainPID, u.status.StatusText = p.pid, ""
	u.mu.Unlock()
	return nil
}

// spawnProcess starts a main process of svc with the listeners, the fd
// store and, for Type=notify, a NOTIFY_SOCKET of its own. resetFlags
// clears O_NONBLOCK on the listeners first (setBlocking); a graceful
// restart leaves it alone, since the running instance shares the
// listeners' open file descriptions.
func (u *Unit) spawnProcess(svc *units.Service, resetFlags bool) (_ *process, err error) {
	var extra []string
	var ns *notifySocket
	if svc.Type == units.TypeNotify || svc.Ready.Watchdog > 0 || svc.EffectiveNotifyAccess() != units.NotifyAccessNone {
		if ns, err = u.openNotify(svc); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				ns.close()
			}
		}()
		extra = append(extra, "NOTIFY_SOCKET="+ns.path)
	}
	stored, storedNames, storeEnv := u.storedFiles(svc) // fdstore.go
	extra = append(extra, storeEnv...)
	extra = append(extra, watchdogEnv(svc)...)
	env, err := u.serviceEnv(svc, extra...)
	if err != nil {
		return nil, err
	}
	fds, names := u.listenerFDs()
	if resetFlags {
		if err = setBlocking(fds, svc.Process.NonBlocking); err != nil {
			return nil, fmt.Errorf("passing the listeners: %w", err)
		}
	}
	spec, err := u.mainSpec(svc, env, fds, names)
	if err != nil {
		return nil, err
	}
	if svc.StandardInput != units.StdinSocket || len(fds) != 1 {
		// The stored fds follow the listeners, flags unchanged.
		spec.Files = append(append([]int(nil), spec.Files...), stored...)
		spec.Names = append(append([]string(nil), spec.Names...), storedNames...)
	}
	if svc.Ready.Watchdog > 0 {
		spec.PidEnv = []string{"WATCHDOG_PID"}
	}
	p, err := spawn.Spawn(u.deps.Reaper, spec)
	if err != nil {
		return nil, err
	}
	ns.setMain(p.Pid)
	return &process{proc: p, pid: p.Pid, started: time.Now(), notify: ns}, nil
}

// setBlocking sets O_NONBLOCK on the fds to pass as NonBlocking= says,
// as systemd does for every socket and FIFO it passes (flag_fds() in
// exec-invoke.c): the open file description is shared with the services,
// so without it a service would get whatever mode the previous instance
// left behind (Go's net package, for one, makes its listeners
// non-blocking), and a FIFO, which activation opens non-blocking, would
// be passed non-blocking with NonBlocking=no, the default.
func setBlocking(fds []int, nonblocking bool) error {
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, nonblocking); err != nil {
			return os.NewSyscallError("fcntl", err)
		}
	}
	return nil
}

// listenerFDs returns the fds and names to pass, in declaration order.
func (u *Unit) listenerFDs() ([]int, []string) {
	fds := make([]int, len(u.listeners))
	names := make([]string, len(u.listeners))
	for i, l := range u.listeners {
		fds[i], names[i] = l.Fd(), l.Name
	}
	return fds, names
}

func (u *Unit) mainPIDEnv() []string {
	if u.main == nil {
		return nil
	}
	env := []string{"MAINPID=" + strconv.Itoa(u.main.pid)}
	if u.main.notify != nil { // as systemd: NotifyAccess=exec and all accept the Exec*= commands
		env = append(env, "NOTIFY_SOCKET="+u.main.notify.path)
	}
	return env
}

// waitReady waits until the main process counts as started: at once for
// Type=simple, after a successful execve for Type=exec, on READY=1 for
// Type=notify, each within TimeoutStartSec=. It returns false if the start
// failed (and has then dealt with it).
func (u *Unit) waitReady(ctx context.Context, svc *units.Service) bool {
	var deadline <-chan time.Time
	if svc.TimeoutStart > 0 {
		t := time.NewTimer(svc.TimeoutStart)
		defer t.Stop()
		deadline = t.C
	}
	if svc.Type == units.TypeForking {
		return u.waitForked(ctx, svc, deadline)
	}
	if svc.Type == units.TypeDbus {
		return u.waitBusName(ctx, svc, deadline)
	}
	execDone := u.main.proc.ExecDone()
	for {
		if svc.Type == units.TypeSimple {
			return true
		}
		select {
		case <-execDone:
			execDone = nil
			if err := u.main.proc.WaitExec(); err != nil {
				u.log.Error("service failed to execute", "service", svc.Name, "err", err)
				continue // its exit arrives next
			}
			if svc.Type == units.TypeExec {
				return true
			}
		case msg := <-u.main.notifyC():
			u.notified(msg)
			if msg.Ready && u.fromService(msg.PID) {
				return true
			}
		case st, ok := <-u.main.exitC():
			u.mainExited(ctx, st, ok)
			return false
		case <-deadline:
			u.log.Error("service did not become ready in time, stopping it", "service", svc.Name, "timeout", svc.TimeoutStart)
			u.stopServiceResult(ctx, "start timed out", true)
			return false
		case <-ctx.Done():
			u.stopService(ctx, u.stopReason())
			return false
		}
	}
}

// runCommands runs Exec*= commands one after another, each to its end
// within timeout. A command that fails stops the sequence with an error,
// unless it has the "-" prefix.
func (u *Unit) runCommands(ctx context.Context, svc *units.Service, directive string, cmds []units.Command, extra []string, timeout time.Duration) error {
	if len(cmds) == 0 {
		return nil
	}
	env, err := u.serviceEnv(svc, extra...)
	if err != nil {
		return err
	}
	for _, cmd := range cmds {
		exit, err := u.runCommand(ctx, svc, cmd, env, timeout)
		if err == nil && !exit.success(svc) && !cmd.IgnoreFailure {
			err = fmt.Errorf("%s %s: %s", directive, filepath.Base(cmd.Path), exit)
		}
		if err != nil && !cmd.IgnoreFailure {
			return err
		}
	}
	return nil
}

// errCommandTimeout is returned when a command ran past its timeout.
var errCommandTimeout = errors.New("timed out")

func (u *Unit) runCommand(ctx context.Context, svc *units.Service, cmd units.Command, env []string, timeout time.Duration) (Exit, error) {
	spec, err := u.commandSpec(svc, cmd, env)
	if err != nil {
		return Exit{}, err
	}
	p, err := spawn.Spawn(u.deps.Reaper, spec)
	if err != nil {
		return Exit{}, err
	}
	u.controlStarted(p.Pid) // notify.go: NotifyAccess=exec
	defer u.controlDone(p.Pid)
	return waitCommand(ctx, p, cmd, timeout)
}

// waitCommand waits for a command sockd runs (Exec*=) to exit; past
// timeout (if positive) or when ctx ends, it kills the command's process
// group and reports the timeout.
func waitCommand(ctx context.Context, p *spawn.Process, cmd units.Command, timeout time.Duration) (Exit, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	select {
	case st := <-p.Exit:
		return exitOf(st), nil
	case <-deadline:
	case <-ctx.Done():
	}
	killGroup(p.Pid, syscall.SIGKILL)
	e := exitOf(<-p.Exit)
	e.Timeout = true
	return e, fmt.Errorf("%s: %w", cmd.Path, errCommandTimeout)
}

// failTriggerLimit fails the unit because TriggerLimitBurst= activations
// came within TriggerLimitIntervalSec=: its stream listeners are closed
// (refuse.go), the others are no longer watched. The state is set before the log line, which tests
// and operators act on.
func (u *Unit) failTriggerLimit() {
	u.setState(StateFailed, "trigger-limit-hit")
	u.log.Error("trigger limit hit, refusing further activation",
		"limit", fmt.Sprintf("%d in %s", u.cfg.Socket.TriggerLimitBurst, u.cfg.Socket.TriggerLimitInterval))
	u.refuseListeners() // refuse.go
}
