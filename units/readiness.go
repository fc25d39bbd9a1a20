package units

import (
	"fmt"
	"strings"
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
	// BusName is BusName=: Type=dbus is ready when it has an owner on
	// the system bus; setting it without Type= implies Type=dbus.
	BusName string
}

func ready[T any](name string, kind ValueKind, get func(r *Readiness) *T, set func(func(u *Unit) *T) setter) directive {
	return svc(name, kind, func(s *Service) *T { return get(&s.Ready) }, set)
}

func readinessDirectives() []directive {
	return []directive{
		ready("PIDFile", KindString, func(r *Readiness) *string { return &r.PIDFile }, checkedString(checkAbsolute)),
		ready("GuessMainPID", KindBool, func(r *Readiness) *bool { return &r.GuessMainPID }, boolSet),
		ready("RemainAfterExit", KindBool, func(r *Readiness) *bool { return &r.RemainAfterExit }, boolSet),
		ready("BusName", KindString, func(r *Readiness) *string { return &r.BusName }, checkedString(checkBusName)),
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

// checkBusName accepts a well-known D-Bus name: dot-separated elements
// of letters, digits, "_" and "-", not starting with a digit, at least
// two, at most 255 bytes.
func checkBusName(s string) error {
	elems := strings.Split(s, ".")
	bad := len(s) > 255 || len(elems) < 2
	for _, e := range elems {
		bad = bad || e == "" || e[0] >= '0' && e[0] <= '9'
		for i := 0; i < len(e) && !bad; i++ {
			c := e[i]
			bad = !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
		}
	}
	if bad {
		return fmt.Errorf("invalid bus name %q", s)
	}
	return nil
}
