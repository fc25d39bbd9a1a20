package supervise

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestParkBusyAcceptUnit: an Accept=yes unit whose instance is still
// starting (in ExecStartPre=) refuses to park with a "busy" error, and
// goes on serving; once the instance runs, it parks, its saved instance
// names the running process, and Resume gives back the duplicates and
// the close-on-exec flag Final cleared.
func TestParkBusyAcceptUnit(t *testing.T) {
	h := startUnit(t, "slow", map[string]string{
		"slow.socket": "[Socket]\nListenStream=$DIR/s.sock\nAccept=yes\n",
		"slow@.service": "[Service]\nExecStartPre=/bin/sleep 0.5\n" +
			"ExecStart=/bin/sh -c 'echo up; read x'\nStandardInput=socket\n",
	})
	c := h.dialUnix("unix", "s.sock", "")
	h.waitFor("the instance to be admitted", func() bool { return h.u.Status().Connections == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p, err := h.u.Park(ctx); err == nil || !strings.Contains(err.Error(), "busy") {
		if p != nil {
			p.Resume()
		}
		t.Fatalf("Park while the instance starts: %v; want a busy error", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 3)
	if n, err := c.Read(buf); string(buf[:n]) != "up\n" {
		t.Fatalf("the instance answered %q, %v; want \"up\"", buf[:n], err)
	}
	// The instance can answer before its goroutine has recorded it.
	h.waitFor("the instance's pid", func() bool { in := h.u.Instances(); return len(in) == 1 && in[0].PID != 0 })
	p, err := h.u.Park(ctx)
	if err != nil {
		t.Fatalf("Park once the instance runs: %v", err)
	}
	if n := len(p.Saved.Instances); n != 1 || p.Saved.Instances[0].PID != h.u.Instances()[0].PID {
		t.Errorf("saved instances %+v; want the running one (%+v)", p.Saved.Instances, h.u.Instances())
	}
	if err := p.Final(); err != nil {
		t.Fatal(err)
	}
	lfd := p.Saved.Listeners[0].FD
	if flags, _ := unix.FcntlInt(uintptr(lfd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
		t.Errorf("after Final the listener is still close-on-exec")
	}
	p.Resume()
	h.waitFor("the listener to be close-on-exec again", func() bool {
		flags, _ := unix.FcntlInt(uintptr(lfd), unix.F_GETFD, 0)
		return flags&unix.FD_CLOEXEC != 0
	})
	c.Write([]byte("bye\n"))
	h.waitFor("the instance to end", func() bool { return h.u.Status().Connections == 0 })
}
