package reaper

import (
	"os"
	"os/signal"
	"syscall"
)

// wakeSource tells the reaper's goroutine that a child may have exited:
// SIGCHLD arrived.
type wakeSource interface {
	// wait blocks until SIGCHLD arrives (true) or stop was called (false).
	wait() bool
	// stop makes wait return false; release frees what the source holds
	// once wait has returned for the last time.
	stop()
	release()
	// signals returns how many SIGCHLDs arrived so far in the process,
	// if the source counts them.
	signals() (n uint64, ok bool)
}

// newWakeSource returns the cheapest source this build has: a C signal
// handler that writes to an eventfd (sigchld_cgo.go), else os/signal.
func newWakeSource() wakeSource {
	if s := newEventSource(); s != nil {
		return s
	}
	return newNotifySource()
}

// notifySource receives SIGCHLD through os/signal: Go's signal goroutine
// wakes, then hands the signal to the reaper's.
type notifySource struct {
	c    chan os.Signal
	done chan struct{}
}

func newNotifySource() *notifySource {
	s := &notifySource{c: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(s.c, syscall.SIGCHLD)
	return s
}

func (s *notifySource) wait() bool {
	select {
	case <-s.c:
		return true
	case <-s.done:
		return false
	}
}

func (s *notifySource) stop() {
	signal.Stop(s.c)
	close(s.done)
}

func (s *notifySource) release() {}

func (s *notifySource) signals() (uint64, bool) { return 0, false }
