package units

import (
	"fmt"
	"strconv"
	"syscall"
	"time"
)

// ExitStatusSet is the value of SuccessExitStatus=,
// RestartPreventExitStatus= and RestartForceExitStatus=: exit codes and
// signals.
type ExitStatusSet struct {
	Codes   []int
	Signals []syscall.Signal
}

// HasCode reports whether the set lists exit code c.
func (s ExitStatusSet) HasCode(c int) bool {
	for _, x := range s.Codes {
		if x == c {
			return true
		}
	}
	return false
}

// HasSignal reports whether the set lists signal sig.
func (s ExitStatusSet) HasSignal(sig syscall.Signal) bool {
	for _, x := range s.Signals {
		if x == sig {
			return true
		}
	}
	return false
}

// addExitStatus adds one word of an exit status list: 0…255 or a signal.
func (s *ExitStatusSet) add(w string) error {
	if n, err := strconv.Atoi(w); err == nil {
		if n < 0 || n > 255 {
			return fmt.Errorf("exit status %d out of range 0…255", n)
		}
		s.Codes = append(s.Codes, n)
		return nil
	}
	sig, err := ParseSignal(w)
	if err != nil {
		return fmt.Errorf("invalid exit status or signal %q", w)
	}
	s.Signals = append(s.Signals, sig)
	return nil
}

// ExitRules holds how sockd judges and answers the end of a service
// (systemd.service(5), systemd.unit(5), systemd.kill(5)).
type ExitRules struct {
	Success        ExitStatusSet // SuccessExitStatus=
	RestartPrevent ExitStatusSet // RestartPreventExitStatus=
	RestartForce   ExitStatusSet // RestartForceExitStatus=

	// StartLimitInterval and StartLimitBurst are [Unit]
	// StartLimitIntervalSec= and StartLimitBurst= (or their [Service]
	// spellings): at most Burst starts per Interval; 0 disables.
	StartLimitInterval time.Duration
	StartLimitBurst    int

	// RestartKillSignal is RestartKillSignal=; 0 means KillSignal=.
	RestartKillSignal syscall.Signal
	// FinalKillSignal is FinalKillSignal=; default SIGKILL.
	FinalKillSignal syscall.Signal
}

// Default start limit (systemd's DefaultStartLimitIntervalSec= and
// DefaultStartLimitBurst=).
const (
	DefaultStartLimitInterval = 10 * time.Second
	DefaultStartLimitBurst    = 5
)
