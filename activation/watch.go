package activation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrWatcherClosed is returned by a Watcher's methods after Close.
var ErrWatcherClosed = errors.New("activation: watcher closed")

// Watcher waits, in one goroutine, for descriptors to become readable.
// Each descriptor is watched level-triggered and one-shot: when it becomes
// readable (or reports an error or hangup), the callback gets its key once
// and the descriptor is disarmed, so it stays quiet while the service it
// started runs; Rearm watches it again (and fires at once if it is still
// readable). The goroutine waits in Go's poller until the epoll fd has
// events (no thread is held meanwhile): it wakes only for an event or for
// Close.
//
// Remove a descriptor before closing it: an epoll registration belongs to
// the open file description, which the services' copies keep alive.
type Watcher struct {
	epfd, evfd int
	pollFile   *os.File // a duplicate of epfd in Go's poller, for the loop
	ready      func(key any)
	done       chan struct{}
	closeOnce  sync.Once

	// epfdMu is held for reading by add while it arms a descriptor
	// outside mu, and for writing by Close to close epfd.
	epfdMu sync.RWMutex

	mu     sync.Mutex
	regs   map[int]watch
	gen    int32
	closed bool
	err    error // why the loop stopped, if it failed
}

type watch struct {
	key    any
	gen    int32  // tells a stale event from the current registration of fd
	events uint32 // EPOLLIN, or 0 for hangups and errors only
}

// wakeGen marks the eventfd's registration.
const wakeGen = -1

// NewWatcher starts a Watcher that calls ready(key) from its goroutine,
// never concurrently. ready may call Add, Rearm and Remove, not Close.
func NewWatcher(ready func(key any)) (*Watcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd), Pad: wakeGen}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	w := &Watcher{epfd: epfd, evfd: evfd, ready: ready, done: make(chan struct{}), regs: map[int]watch{}}
	go w.loop()
	return w, nil
}

// Add watches fd for readability and arms it; key is what the callback
// receives.
func (w *Watcher) Add(fd int, key any) error {
	return w.add(fd, key, unix.EPOLLIN)
}

// AddHangup watches fd for a hangup or an error only (EPOLLHUP,
// EPOLLERR), one-shot like Add: what systemd watches the fds of a fd
// store for. A file that cannot be polled (a regular file, a memfd) is
// refused with EPERM.
func (w *Watcher) AddHangup(fd int, key any) error {
	return w.add(fd, key, 0)
}

// add registers fd, then arms it without holding mu, so that several
// goroutines add at once (a new image of sockd watches 10,000 listeners
// after an upgrade); epfd stays open meanwhile (epfdMu). No event for
// the registration can come before the epoll_ctl.
func (w *Watcher) add(fd int, key any, events uint32) error {
	w.epfdMu.RLock()
	defer w.epfdMu.RUnlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrWatcherClosed
	}
	if _, ok := w.regs[fd]; ok {
		w.mu.Unlock()
		return fmt.Errorf("watch fd %d: %w", fd, unix.EEXIST)
	}
	w.gen++
	if w.gen < 0 {
		w.gen = 0
	}
	gen := w.gen
	w.regs[fd] = watch{key: key, gen: gen, events: events}
	w.mu.Unlock()
	err := w.ctl(unix.EPOLL_CTL_ADD, fd, gen, events)
	if err != nil {
		w.mu.Lock()
		if r, ok := w.regs[fd]; ok && r.gen == gen {
			delete(w.regs, fd)
		}
		w.mu.Unlock()
	}
	return err
}

// Rearm watches fd again after its event was delivered.
func (w *Watcher) Rearm(fd int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrWatcherClosed
	}
	r, ok := w.regs[fd]
	if !ok {
		return fmt.Errorf("rearm fd %d: %w", fd, unix.ENOENT)
	}
	return w.ctl(unix.EPOLL_CTL_MOD, fd, r.gen, r.events)
}

// Remove stops watching fd; removing an unwatched fd does nothing. Once
// Remove returns, no event for fd is delivered, except by a callback that
// had already started.
func (w *Watcher) Remove(fd int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrWatcherClosed
	}
	if _, ok := w.regs[fd]; !ok {
		return nil
	}
	delete(w.regs, fd)
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl del", err)
	}
	return nil
}

// Close stops the goroutine and waits for it. The watched descriptors are
// not closed. It returns the error that stopped the goroutine early, if
// any.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(w.evfd, one[:])
		<-w.done
		w.epfdMu.Lock()
		if w.pollFile != nil {
			w.pollFile.Close()
		}
		unix.Close(w.epfd)
		w.epfdMu.Unlock()
		unix.Close(w.evfd)
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Inheritable makes the watcher's epoll descriptor survive an execve(2),
// or not, and returns it. A process that re-executes itself passes it
// on so that the new image closes it once it watches the descriptors
// itself: freeing an epoll instance with many registrations takes a
// while (about 10 ms for 10,000), which the execve would otherwise spend.
func (w *Watcher) Inheritable(on bool) (int, error) {
	w.epfdMu.RLock()
	defer w.epfdMu.RUnlock()
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return -1, ErrWatcherClosed
	}
	flag := unix.FD_CLOEXEC
	if on {
		flag = 0
	}
	if _, err := unix.FcntlInt(uintptr(w.epfd), unix.F_SETFD, flag); err != nil {
		return -1, os.NewSyscallError("fcntl F_SETFD", err)
	}
	return w.epfd, nil
}

func (w *Watcher) ctl(op, fd int, gen int32, events uint32) error {
	ev := unix.EpollEvent{Events: events | unix.EPOLLONESHOT, Fd: int32(fd), Pad: gen}
	if err := unix.EpollCtl(w.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (w *Watcher) loop() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 32)
	rc, err := w.pollable()
	var stop bool
	for !stop && err == nil {
		// The epoll fd is readable when it has events: the goroutine
		// waits in Go's poller, which holds no thread.
		err = rc.Read(func(uintptr) bool {
			var n int
			n, err = unix.EpollWait(w.epfd, events, 0)
			if err == unix.EINTR || (err == nil && n == 0) {
				err = nil
				return false
			}
			if err != nil {
				err = os.NewSyscallError("epoll_wait", err)
				return true
			}
			stop = w.dispatch(events[:n])
			return true
		})
	}
	if err != nil {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	}
}

// pollable puts a duplicate of the epoll fd in Go's poller.
func (w *Watcher) pollable() (syscall.RawConn, error) {
	dup, err := unix.FcntlInt(uintptr(w.epfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, os.NewSyscallError("fcntl", err)
	}
	w.pollFile = os.NewFile(uintptr(dup), "epoll")
	return w.pollFile.SyscallConn()
}

// dispatch calls back for events; it reports whether Close woke the
// loop.
func (w *Watcher) dispatch(events []unix.EpollEvent) bool {
	for _, ev := range events {
		if ev.Pad == wakeGen && int(ev.Fd) == w.evfd {
			return true
		}
		if key, ok := w.lookup(int(ev.Fd), ev.Pad); ok {
			w.ready(key)
		}
	}
	return false
}

// lookup returns the key of the current registration of fd.
func (w *Watcher) lookup(fd int, gen int32) (any, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.regs[fd]
	if !ok || r.gen != gen || w.closed {
		return nil, false
	}
	return r.key, true
}
