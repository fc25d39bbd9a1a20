package supervise

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestParkIdle parks an idle unit without waking it: a connection made
// meanwhile waits in the kernel and is served once the unit resumes; a
// unit whose goroutine runs is left to Park.
func TestParkIdle(t *testing.T) {
	h := startUnit(t, "idle", map[string]string{
		"idle.socket":   "[Socket]\nListenStream=$DIR/s.sock\nAccept=yes\n",
		"idle@.service": "[Service]\nExecStart=/bin/sh -c 'echo up; read x'\nStandardInput=socket\n",
	})
	var p *Parked
	h.waitFor("the unit to park idle", func() bool {
		var ok bool
		var err error
		p, ok, err = h.u.ParkIdle()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	if n := len(p.Saved.Listeners); n != 1 || p.Saved.Config == nil {
		t.Fatalf("saved %d listeners, settings %v; want 1 and the unit's", n, p.Saved.Config)
	}
	if _, ok, _ := h.u.ParkIdle(); ok {
		t.Fatal("ParkIdle of a parked unit: ok")
	}
	if err := p.Final(); err != nil {
		t.Fatal(err)
	}
	lfd := p.Saved.Listeners[0].FD
	if flags, _ := unix.FcntlInt(uintptr(lfd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
		t.Errorf("after Final the listener is still close-on-exec")
	}

	c := h.dialUnix("unix", "s.sock", "")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 3)
	if n, err := c.Read(buf); n > 0 || err == nil {
		t.Fatalf("a parked unit answered %q", buf[:n])
	}
	if n := h.u.Status().Connections; n != 0 {
		t.Fatalf("a parked unit admitted %d connections", n)
	}

	p.Resume()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(buf); string(buf[:n]) != "up\n" {
		t.Fatalf("after Resume the instance answered %q, %v; want \"up\"", buf[:n], err)
	}
	if flags, _ := unix.FcntlInt(uintptr(lfd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("after Resume the listener is not close-on-exec")
	}
	if q, ok, err := h.u.ParkIdle(); ok || err != nil {
		if q != nil {
			q.Resume()
		}
		t.Errorf("ParkIdle with a live instance: ok %v, %v; want not ok", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := h.u.Park(ctx)
	if err != nil {
		t.Fatalf("Park with a live instance: %v", err)
	}
	q.Resume()
	c.Write([]byte("bye\n"))
	h.waitFor("the instance to end", func() bool { return h.u.Status().Connections == 0 })
}
