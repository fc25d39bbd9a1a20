// Package reaper is the only code in sockd that waits for child processes.
//
// A Reaper makes sockd a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER),
// so that the descendants of its services are reparented to sockd rather
// than to PID 1 when their parent exits, and it reaps every child with
// wait4(2) when SIGCHLD arrives: the processes sockd started, and orphans
// it never started (as PID 1 in a container, every orphan of the
// container). Each exit status goes to whoever registered that pid.
//
// A child can exit before its pid is known to the code that forked it.
// Start therefore forks while holding the reaper's lock and registers the
// pid before releasing it; the loop that calls wait4 holds the same lock,
// so a status is never reaped before its subscriber exists, and a pid that
// is reused after a reap is never confused with the old process.
//
// A subscriber gets the status on a channel (Start, Adopt) or through a
// function the reaper calls (StartFunc): the function saves a goroutine
// hand-off per child where processes are short-lived (Accept=yes).
//
// Nothing else in the process may wait for children: exec.Cmd.Wait,
// os.Process.Wait and syscall.Wait4 would race with the reaper (or find
// the child already reaped). Start children through Start.
package reaper

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Status is what wait4(2) reported for one child.
type Status struct {
	Pid    int
	Wait   syscall.WaitStatus
	Rusage syscall.Rusage
}

// String formats the status the way systemctl(1) does:
// "code=exited, status=3" or "code=killed, signal=TERM".
func (s Status) String() string {
	switch {
	case s.Wait.Exited():
		return fmt.Sprintf("code=exited, status=%d", s.Wait.ExitStatus())
	case s.Wait.Signaled() && s.Wait.CoreDump():
		return fmt.Sprintf("code=dumped, signal=%s", SignalName(s.Wait.Signal()))
	case s.Wait.Signaled():
		return fmt.Sprintf("code=killed, signal=%s", SignalName(s.Wait.Signal()))
	}
	return fmt.Sprintf("code=unknown, status=%#x", uint32(s.Wait))
}

// SignalName names a signal as systemctl(1) does: "TERM", "KILL", or the
// number for a signal without a name.
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name[3:] // "SIGTERM" → "TERM"
	}
	return fmt.Sprint(int(sig))
}

// ErrStopped is returned by Start after Stop.
var ErrStopped = errors.New("reaper: stopped")

// Reaper reaps children and delivers their exit statuses. Create it with
// New; its zero value is not usable.
type Reaper struct {
	log *slog.Logger

	// delivering is held from a wait4 until the statuses it got are
	// delivered, so that Reap returns only once every status reaped
	// before it has been delivered. Taken before mu.
	delivering sync.Mutex
	// signalsReaped is the wake source's count of SIGCHLDs when the last
	// reap began (guarded by delivering): if it has not changed, Reap has
	// nothing to reap.
	signalsReaped uint64
	mu            sync.Mutex
	subs          map[int]subscriber
	stopped       bool
	// orphans remembers the last orphans reaped, so that Adopt still
	// gets the status of a child that exited before it was adopted.
	orphans orphanMemory

	wake wakeSource // SIGCHLD (wake.go)
	done chan struct{}
}

// New makes the process a child subreaper, subscribes to SIGCHLD and
// starts the reaping goroutine. Orphans are logged to log at debug level;
// a nil log means slog.Default(). Call Stop to end the goroutine.
func New(log *slog.Logger) (*Reaper, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("reaper: prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	r := &Reaper{
		log:  log,
		subs: make(map[int]subscriber),
		done: make(chan struct{}),
	}
	r.wake = newWakeSource()
	go r.loop()
	return r, nil
}

// subscriber is who gets a child's status: c, or else fn.
type subscriber struct {
	c  chan Status
	fn func(st Status, ok bool)
}

// deliver hands st to s; ok=false means the reaper stopped first.
func (s subscriber) deliver(st Status, ok bool) {
	if s.fn != nil {
		s.fn(st, ok)
		return
	}
	if ok {
		s.c <- st // buffered, one value per pid: never blocks
	}
	close(s.c)
}

// Start calls fork, which must start exactly one child and return its
// pid, with the reaper's lock held, and registers the pid before any
// status can be reaped. The returned channel receives the child's status
// once and is then closed; it is closed without a value if the reaper is
// stopped first. If fork fails, its error is returned and nothing is
// registered. fork must not call Start.
func (r *Reaper) Start(fork func() (pid int, err error)) (<-chan Status, error) {
	c := make(chan Status, 1)
	if err := r.start(fork, subscriber{c: c}); err != nil {
		return nil, err
	}
	return c, nil
}

// StartFunc is Start with a function instead of a channel: exited is
// called once with the child's status and ok=true, or with ok=false if
// the reaper is stopped first. It is called by the goroutine that reaped
// the child (the reaper's, or one calling Reap), without the reaper's
// lock held; it must not block for long, as other exits wait behind it.
// It may be called before StartFunc returns.
func (r *Reaper) StartFunc(fork func() (pid int, err error), exited func(st Status, ok bool)) error {
	return r.start(fork, subscriber{fn: exited})
}

func (r *Reaper) start(fork func() (pid int, err error), s subscriber) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return ErrStopped
	}
	pid, err := fork()
	if err != nil {
		return err
	}
	if pid <= 0 {
		return fmt.Errorf("reaper: fork returned pid %d", pid)
	}
	r.subs[pid] = s
	return nil
}

// Stop stops the reaping goroutine and waits for it to return. Channels
// of children not yet reaped are closed without a value. Children that
// exit later stay zombies until the process exits or another Reaper
// starts. Stop may be called more than once.
func (r *Reaper) Stop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		<-r.done
		return
	}
	r.stopped = true
	r.mu.Unlock()

	r.wake.stop()
	<-r.done
	r.wake.release()

	r.mu.Lock()
	subs := r.subs
	r.subs = make(map[int]subscriber)
	r.mu.Unlock()
	for _, s := range subs {
		s.deliver(Status{}, false)
	}
}

func (r *Reaper) loop() {
	defer close(r.done)
	// A child may have exited before the wake source was in place.
	r.reapAll()
	for r.wake.wait() {
		r.reapAll()
	}
}

// Reap reaps, in the calling goroutine, every child that has exited and
// delivers the statuses, as the reaper's goroutine does on SIGCHLD; it
// returns once every status reaped before it, by anyone, was delivered
// (to a channel or a function). A caller that counts live children calls
// it to learn of exits at once rather than when the signal is handled.
// It does nothing after Stop, and waits while the reaper is frozen. A
// function given to StartFunc must not call it.
//
// Where SIGCHLDs are counted (with cgo), Reap calls wait4 only if one
// arrived since the last reap began, so that a caller refusing a flood of
// connections does not scan every child for each.
func (r *Reaper) Reap() {
	r.reap(true)
}

// reapAll reaps until no child is left to reap, then delivers the
// statuses. SIGCHLD is not queued: one signal may stand for many exits,
// so one wake-up drains them all.
func (r *Reaper) reapAll() { r.reap(false) }

// reap is reapAll; unlessStopped makes it do nothing after Stop.
func (r *Reaper) reap(unlessStopped bool) {
	// One lock for the whole batch: with goroutines queued to fork (Start
	// holds the lock), taking it per child let the mutex starve the
	// reaper, and exited children piled up as zombies. Functions
	// (StartFunc) are called after the lock is released.
	var calls []reaped
	r.delivering.Lock()
	defer r.delivering.Unlock()
	n, counted := r.wake.signals()
	if unlessStopped && counted && n == r.signalsReaped {
		return // no child has exited since the last reap began
	}
	r.signalsReaped = n
	r.mu.Lock()
	if !unlessStopped || !r.stopped {
		for {
			st, s, ok := r.reapOne()
			if !ok {
				break
			}
			if s.fn != nil {
				calls = append(calls, reaped{st, s})
			} else if s.c != nil {
				s.deliver(st, true)
			}
		}
	}
	r.mu.Unlock()
	for _, c := range calls {
		c.s.deliver(c.st, true)
	}
}

// reaped is a status to deliver to a function once r.mu is released.
type reaped struct {
	st Status
	s  subscriber
}

// reapOne reaps one child, if one has exited, and returns its status and
// subscriber (zero for an orphan); r.mu is held.
func (r *Reaper) reapOne() (Status, subscriber, bool) {
	var st Status
	var err error
	for {
		st.Pid, err = syscall.Wait4(-1, &st.Wait, syscall.WNOHANG, &st.Rusage)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		if err != syscall.ECHILD {
			r.log.Error("wait4 failed", "err", err)
		}
		return st, subscriber{}, false
	}
	if st.Pid <= 0 {
		return st, subscriber{}, false
	}
	if s, ok := r.subs[st.Pid]; ok {
		delete(r.subs, st.Pid)
		return st, s, true
	}
	r.orphans.add(st)
	r.log.Debug("reaped orphan", "pid", st.Pid, "status", st.String())
	return st, subscriber{}, true
}

// Adopt registers pid, a child this process already has (one started
// before sockd re-executed itself, which keeps its children), and returns
// the channel that receives its status, as Start does. If pid is not a
// child any more — it exited and was reaped before Adopt, by this reaper
// or by the previous process image — the channel receives the status
// when the reaper remembers it, and is otherwise closed without a value.
func (r *Reaper) Adopt(pid int) <-chan Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := make(chan Status, 1)
	if st, ok := r.orphans.take(pid); ok {
		c <- st
		close(c)
		return c
	}
	if r.stopped || pid <= 0 || !isChild(pid) {
		close(c)
		return c
	}
	r.subs[pid] = subscriber{c: c}
	return c
}

// isChild reports whether pid is a child of this process that has not
// been reaped yet, without reaping it.
func isChild(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err == nil
		}
	}
}

// orphanMemory keeps the statuses of the last orphansRemembered orphans.
type orphanMemory struct {
	byPid map[int]Status
	order []int
}

const orphansRemembered = 256

func (m *orphanMemory) add(st Status) {
	if m.byPid == nil {
		m.byPid = make(map[int]Status)
	}
	if len(m.order) >= orphansRemembered {
		delete(m.byPid, m.order[0])
		m.order = m.order[1:]
	}
	m.byPid[st.Pid] = st
	m.order = append(m.order, st.Pid)
}

func (m *orphanMemory) take(pid int) (Status, bool) {
	st, ok := m.byPid[pid]
	if ok {
		delete(m.byPid, pid) // its slot in order ages out
	}
	return st, ok
}

// Freeze stops reaping until thaw is called: a child that exits stays a
// zombie, and its status is not delivered; Start and Adopt wait. sockd
// freezes its reaper right before it re-executes itself, so that the new
// image reaps every exit that the old one did not deliver.
func (r *Reaper) Freeze() (thaw func()) {
	r.mu.Lock()
	var once sync.Once
	return func() { once.Do(r.mu.Unlock) }
}
