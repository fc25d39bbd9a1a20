package activation

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

const quiet = 200 * time.Millisecond // how long "nothing happens" is watched

func newWatcher(t *testing.T) (*Watcher, chan any) {
	t.Helper()
	ch := make(chan any, 16)
	w, err := NewWatcher(func(key any) { ch <- key })
	if err != nil {
		t.Fatal(err)
	}
	return w, ch
}

func expectEvent(t *testing.T, ch chan any, want any) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Errorf("event for %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event for %v", want)
	}
}

func expectNone(t *testing.T, ch chan any) {
	t.Helper()
	select {
	case got := <-ch:
		t.Errorf("unexpected event for %v", got)
	case <-time.After(quiet):
	}
}

func dial(t *testing.T, fd int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", boundPort(t, fd)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWatcherOneShot(t *testing.T) {
	defer goleak.VerifyNone(t)
	l := bind(t, newSocket(ipListener(units.Stream, "127.0.0.1", 0)))[0]
	w, ch := newWatcher(t)
	defer w.Close()
	if err := w.Add(l.Fd(), "web"); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(l.Fd(), "again"); !errors.Is(err, unix.EEXIST) {
		t.Errorf("second Add: %v", err)
	}
	expectNone(t, ch)
	c := dial(t, l.Fd())
	defer c.Close()
	expectEvent(t, ch, "web")
	expectNone(t, ch) // one-shot: the pending connection does not fire again
	w.Rearm(l.Fd())
	expectEvent(t, ch, "web") // level-triggered: still pending
	nfd, _, err := unix.Accept4(l.Fd(), unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(nfd)
	w.Rearm(l.Fd())
	expectNone(t, ch) // drained
	c2 := dial(t, l.Fd())
	defer c2.Close()
	expectEvent(t, ch, "web")
}

func TestWatcherRemove(t *testing.T) {
	defer goleak.VerifyNone(t)
	ls := bind(t, newSocket(ipListener(units.Stream, "127.0.0.1", 0), ipListener(units.Stream, "127.0.0.1", 0)))
	w, ch := newWatcher(t)
	defer w.Close()
	w.Add(ls[0].Fd(), 0)
	w.Add(ls[1].Fd(), 1)
	if err := w.Remove(ls[0].Fd()); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ls[0].Fd())
	defer c.Close()
	expectNone(t, ch)
	c2 := dial(t, ls[1].Fd())
	defer c2.Close()
	expectEvent(t, ch, 1)
	if err := w.Rearm(ls[0].Fd()); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Rearm after Remove: %v", err)
	}
	// Adding it back fires at once: the connection is still queued.
	w.Add(ls[0].Fd(), "back")
	expectEvent(t, ch, "back")
}

func TestWatcherCallbackCanRearm(t *testing.T) {
	defer goleak.VerifyNone(t)
	l := bind(t, newSocket(ipListener(units.Stream, "127.0.0.1", 0)))[0]
	n := 0
	done := make(chan struct{})
	var w *Watcher
	w, err := NewWatcher(func(key any) {
		n++
		if n < 3 {
			w.Rearm(l.Fd()) // still pending: fires again
		} else {
			w.Remove(l.Fd())
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Add(l.Fd(), nil)
	c := dial(t, l.Fd())
	defer c.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the callback was not called three times")
	}
	w.Close()
}

func TestWatcherClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	before := countFDs(t)
	w, _ := newWatcher(t)
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Add(0, nil); !errors.Is(err, ErrWatcherClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if after := countFDs(t); after != before {
		t.Errorf("%d descriptors before, %d after Close", before, after)
	}
}

func TestWatcherInheritable(t *testing.T) {
	defer goleak.VerifyNone(t)
	w, _ := newWatcher(t)
	cloexec := func(fd int) bool {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		return flags&unix.FD_CLOEXEC != 0
	}
	fd, err := w.Inheritable(true)
	if err != nil {
		t.Fatal(err)
	}
	if cloexec(fd) {
		t.Errorf("Inheritable(true): fd %d is still close-on-exec", fd)
	}
	if fd, err = w.Inheritable(false); err != nil {
		t.Fatal(err)
	}
	if !cloexec(fd) {
		t.Errorf("Inheritable(false): fd %d is not close-on-exec", fd)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Inheritable(true); !errors.Is(err, ErrWatcherClosed) {
		t.Errorf("Inheritable after Close: %v; want ErrWatcherClosed", err)
	}
}
