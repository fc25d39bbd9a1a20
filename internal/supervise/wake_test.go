package supervise

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// loops counts the units' goroutines (wake.go) in this process.
func loops() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "supervise.(*Unit).loop(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// readOneUnit is an Accept=no datagram unit whose service reads one
// datagram and exits.
var readOneUnit = map[string]string{
	"one.socket":  "[Socket]\nListenDatagram=$DIR/d.sock\n",
	"one.service": "[Service]\nExecStart=/bin/sh -c 'head -c 1 <&3 >/dev/null'\n",
}

// TestIdleUnitHasNoGoroutine: the unit's goroutine runs from a readable
// listener until the service has exited, and from a request until it is
// done; in between the unit holds none.
func TestIdleUnitHasNoGoroutine(t *testing.T) {
	h := startUnit(t, "one", readOneUnit)
	if n := loops(); n != 0 {
		t.Fatalf("%d unit goroutines before any traffic; want 0", n)
	}
	for i := 1; i <= 3; i++ {
		c, err := net.Dial("unixgram", h.path("d.sock"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		c.Close()
		h.waitFor("the service ran and exited", func() bool {
			st := h.u.Status()
			return st.Activations == i && st.State == StateListening && st.MainPID == 0 && st.LastExit != nil
		})
		h.waitFor("the unit's goroutine slept", func() bool { return loops() == 0 })
	}
	if err := h.u.Do(context.Background(), OpStart); err != nil {
		t.Fatalf("Do(OpStart) on a sleeping unit: %v", err)
	}
	if st := h.u.Status(); st.State != StateRunning && st.State != StateListening {
		t.Errorf("after OpStart: state %s", st.State)
	}
	if err := h.u.Do(context.Background(), OpStop); err != nil {
		t.Fatalf("Do(OpStop): %v", err)
	}
	h.waitFor("the unit's goroutine slept after the requests", func() bool { return loops() == 0 })
}

// TestRequestsRaceSleep: requests sent from many goroutines to a unit
// that goes to sleep after each one are all served; none is lost to the
// goroutine going to sleep as it arrives.
func TestRequestsRaceSleep(t *testing.T) {
	h := startUnit(t, "one", readOneUnit)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := h.u.Do(ctx, OpReset); err != nil { // a no-op: the unit has not failed
					errs <- err
					return
				}
				h.u.Status()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Do: %v", err)
	}
	h.waitFor("the unit's goroutine slept", func() bool { return loops() == 0 })

	// A request whose context ends before it is served is withdrawn.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if err := h.u.Do(done, OpReset); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context: %v", err)
	}
	h.stop()
	if err := h.u.Do(context.Background(), OpStart); !errors.Is(err, ErrStopped) {
		t.Errorf("Do after Stop: %v; want ErrStopped", err)
	}
}

// TestNeverStarted: a unit closed without Start (a stopped socket)
// refuses requests at once, and Stop does nothing more.
func TestNeverStarted(t *testing.T) {
	dir := t.TempDir()
	cfg := loadUnit(t, dir, "one", map[string]string{
		"one.socket":  "[Socket]\nListenStream=" + dir + "/s.sock\n",
		"one.service": "[Service]\nExecStart=/bin/true\n",
	})
	u := New(cfg, nil, Deps{Log: slog.New(slog.DiscardHandler)})
	u.Close()
	u.Stop()
	if err := u.Do(context.Background(), OpStart); !errors.Is(err, ErrStopped) {
		t.Errorf("Do on a closed unit: %v; want ErrStopped", err)
	}
	if err := u.Reconfigure(context.Background(), cfg); !errors.Is(err, ErrStopped) {
		t.Errorf("Reconfigure on a closed unit: %v; want ErrStopped", err)
	}
	if got := u.Config(); got != cfg {
		t.Errorf("Config() = %p; want the last settings given, %p", got, cfg)
	}
}
