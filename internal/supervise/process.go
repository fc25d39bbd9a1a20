package supervise

import (
	"context"
	"time"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
)

// process is the running main process of the service.
type process struct {
	proc    *spawn.Process
	pid     int
	started time.Time
	notify  *notifySocket // nil unless Type=notify or WatchdogSec=
	// watchdog is the running service's watchdog (watchdog.go); nil
	// without WatchdogSec= and until the service runs.
	watchdog *watchdog
	// exited is set once the reaper reported the exit; exit channels are
	// then nil so that the loop's select ignores them.
	exited bool
	// session is the session the service was started in (the first
	// process's pid); 0 means pid. A forked daemon or a MAINPID= keeps
	// the service's session for fromService.
	session int
	// exit, when set, replaces proc.Exit: the daemon a Type=forking
	// service forked has no spawn.Process (types.go).
	exit <-chan reaper.Status
}

func (p *process) exitC() <-chan reaper.Status {
	if p == nil || p.exited {
		return nil
	}
	if p.exit != nil {
		return p.exit
	}
	return p.proc.Exit
}

func (p *process) notifyC() <-chan notifyMsg {
	if p == nil || p.notify == nil {
		return nil
	}
	return p.notify.messages()
}

// close releases what the process held in sockd.
func (p *process) close() {
	if p != nil {
		p.watchdog.stop()
	}
	if p != nil && p.notify != nil {
		p.notify.close()
		p.notify = nil
	}
}

type timerPurpose int

const (
	timerNone timerPurpose = iota
	timerRestart
)

func (u *Unit) timerC() <-chan time.Time {
	if u.timer == nil {
		return nil
	}
	return u.timer.C
}

// setTimer arms the unit's one timer for purpose after d.
func (u *Unit) setTimer(d time.Duration, purpose timerPurpose) {
	u.stopTimer()
	u.timer, u.timerFor = time.NewTimer(d), purpose
}

func (u *Unit) stopTimer() {
	if u.timer != nil {
		u.timer.Stop()
		u.timer, u.timerFor = nil, timerNone
	}
}

func (u *Unit) timerFired(ctx context.Context) {
	purpose := u.timerFor
	u.timer, u.timerFor = nil, timerNone
	if purpose == timerRestart && u.state == StateAutoRestart {
		u.startService(ctx, startRestart)
	}
}
