package units

import (
	"syscall"
	"time"
)

// Readiness holds the settings of systemd.service(5) that decide when a
// service counts as started and still alive, beyond Type=.
type Readiness struct {
	// Watchdog is WatchdogSec=: the service must send WATCHDOG=1 at least
	// this often once it is running; 0 disables the watchdog.
	Watchdog time.Duration
	// WatchdogSignal is WatchdogSignal=; default SIGABRT.
	WatchdogSignal syscall.Signal
	// TimeoutAbort is TimeoutAbortSec=: how long a service the watchdog
	// signalled may take to exit; nil means TimeoutStopSec=, 0 infinity.
	TimeoutAbort *time.Duration
	// PIDFile is PIDFile=: Type=forking's main process is read from it.
	PIDFile string
	// GuessMainPID is GuessMainPID=; default yes.
	GuessMainPID bool
	// RemainAfterExit is RemainAfterExit= (Type=oneshot).
	RemainAfterExit bool
}

func ready[T any](name string, kind ValueKind, get func(r *Readiness) *T, set func(func(u *Unit) *T) setter) directive {
	return svc(name, kind, func(s *Service) *T { return get(&s.Ready) }, set)
}

func readinessDirectives() []directive {
	return []directive{
		ready("PIDFile", KindString, func(r *Readiness) *string { return &r.PIDFile }, checkedString(checkAbsolute)),
		ready("GuessMainPID", KindBool, func(r *Readiness) *bool { return &r.GuessMainPID }, boolSet),
		ready("RemainAfterExit", KindBool, func(r *Readiness) *bool { return &r.RemainAfterExit }, boolSet),
		ready("WatchdogSec", KindTimespan, func(r *Readiness) *time.Duration { return &r.Watchdog }, durationSet(true)),
		ready("WatchdogSignal", KindString, func(r *Readiness) *syscall.Signal { return &r.WatchdogSignal }, signalSet),
		ready("TimeoutAbortSec", KindTimespan, func(r *Readiness) **time.Duration { return &r.TimeoutAbort }, func(g func(*Unit) **time.Duration) setter {
			return func(u *Unit, v string) error {
				var d time.Duration
				if err := durationField(func(*Unit) *time.Duration { return &d }, true)(u, v); err != nil {
					return err
				}
				*g(u) = &d
				return nil
			}
		}),
	}
}
