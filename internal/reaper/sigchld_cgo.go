//go:build cgo && linux

package reaper

// #include <errno.h>
// #include <signal.h>
// #include <stdint.h>
// #include <string.h>
// #include <unistd.h>
//
// #define SLOTS 8
//
// // The eventfds to write to on SIGCHLD, one per live Reaper; -1: free.
// static int slots[SLOTS] = {-1, -1, -1, -1, -1, -1, -1, -1};
// static struct sigaction go_handler; // the handler ours replaced
// static int installed;
// uint64_t reaper_sigchld_count;       // SIGCHLDs handled so far
//
// // on_sigchld wakes every Reaper, then calls the Go handler it
// // replaced, so that os/signal still sees SIGCHLD (it drops it unless
// // a channel was registered for it).
// static void on_sigchld(int sig, siginfo_t *info, void *ctx) {
// 	int saved = errno;
// 	uint64_t one = 1;
// 	__atomic_add_fetch(&reaper_sigchld_count, 1, __ATOMIC_SEQ_CST);
// 	for (int i = 0; i < SLOTS; i++) {
// 		int fd = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
// 		if (fd >= 0 && write(fd, &one, sizeof one) < 0) {
// 			// EAGAIN: the counter is full, the reaper will wake anyway.
// 		}
// 	}
// 	errno = saved;
// 	if (go_handler.sa_flags & SA_SIGINFO)
// 		go_handler.sa_sigaction(sig, info, ctx);
// 	else if (go_handler.sa_handler != SIG_DFL && go_handler.sa_handler != SIG_IGN)
// 		go_handler.sa_handler(sig);
// }
//
// // reaper_sigchld_install installs on_sigchld once; 0 or -errno.
// static int reaper_sigchld_install(void) {
// 	if (installed)
// 		return 0;
// 	struct sigaction sa;
// 	memset(&sa, 0, sizeof sa);
// 	sa.sa_sigaction = on_sigchld;
// 	// On the thread's signal stack, as Go's handlers run; every
// 	// signal blocked meanwhile, as Go's handler has it.
// 	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
// 	sigfillset(&sa.sa_mask);
// 	if (sigaction(SIGCHLD, &sa, &go_handler) < 0)
// 		return -errno;
// 	installed = 1;
// 	return 0;
// }
//
// static void reaper_sigchld_slot(int i, int fd) {
// 	__atomic_store_n(&slots[i], fd, __ATOMIC_RELEASE);
// }
import "C"

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// With cgo, SIGCHLD is handled by a C handler that writes to an eventfd
// per Reaper, which the reaper's goroutine waits for in Go's poller. On
// SIGCHLD, os/signal wakes its own goroutine, which then wakes the
// reaper's: two hand-offs between threads for every exit, the largest
// cost of an Accept=yes connection after the fork. The handler wakes the
// reaper's goroutine directly through the poller, and chains to Go's
// handler, so that os/signal still works for SIGCHLD.
//
// The eventfds are never closed: the handler may be writing to one while
// its Reaper stops, and a closed fd could be reused by anything. A slot
// and its eventfd are reused by the next Reaper; there are at most
// len(slots) at once, and os/signal serves any Reaper beyond them.
var sigchld struct {
	sync.Mutex
	failed bool // the handler could not be installed
	used   [8]bool
	files  [8]*os.File // the eventfds, in Go's poller
}

// eventSource is a slot of sigchld.
type eventSource struct {
	slot     int
	f        *os.File
	rc       syscall.RawConn
	stopping atomic.Bool
}

// newEventSource returns a source on a free slot, or nil.
func newEventSource() wakeSource {
	s := &sigchld
	s.Lock()
	defer s.Unlock()
	if s.failed {
		return nil
	}
	if C.reaper_sigchld_install() != 0 {
		s.failed = true
		return nil
	}
	for i, used := range s.used {
		if used {
			continue
		}
		if s.files[i] == nil {
			fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
			if err != nil {
				return nil
			}
			s.files[i] = os.NewFile(uintptr(fd), "reaper-sigchld")
		}
		rc, err := s.files[i].SyscallConn()
		if err != nil {
			return nil
		}
		es := &eventSource{slot: i, f: s.files[i], rc: rc}
		es.drain() // a wake left by a previous Reaper
		s.used[i] = true
		C.reaper_sigchld_slot(C.int(i), C.int(s.files[i].Fd()))
		return es
	}
	return nil
}

// drain reads the eventfd's count, if any, and reports whether it had one.
func (s *eventSource) drain() bool {
	var got bool
	s.rc.Read(func(fd uintptr) bool {
		var buf [8]byte
		_, err := unix.Read(int(fd), buf[:])
		got = err == nil
		return true // never wait
	})
	return got
}

func (s *eventSource) wait() bool {
	for !s.stopping.Load() {
		var got bool
		err := s.rc.Read(func(fd uintptr) bool {
			var buf [8]byte
			_, err := unix.Read(int(fd), buf[:])
			if err == unix.EAGAIN || err == unix.EINTR {
				return false // wait in Go's poller
			}
			got = err == nil
			return true
		})
		if err != nil {
			return false
		}
		if got && !s.stopping.Load() {
			return true
		}
	}
	return false
}

func (s *eventSource) stop() {
	s.stopping.Store(true)
	C.reaper_sigchld_slot(C.int(s.slot), -1)
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(int(s.f.Fd()), one[:]) // wakes wait
}

func (s *eventSource) release() {
	sigchld.Lock()
	defer sigchld.Unlock()
	sigchld.used[s.slot] = false
}

// signals returns how many SIGCHLDs the handler has seen.
func (s *eventSource) signals() (uint64, bool) {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&C.reaper_sigchld_count))), true
}
