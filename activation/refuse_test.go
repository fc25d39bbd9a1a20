package activation

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

func TestRefuseReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	s := newSocket(ipListener(units.Stream, "127.0.0.1", 0), pathListener(units.Stream, path), ipListener(units.Datagram, "127.0.0.1", 0))
	s.RemoveOnStop = true
	ls := bind(t, s)
	port := boundPort(t, ls[0].Fd())
	s.Listeners[0].Address.Port = port // Reopen binds the same port again
	ls[0].spec.Address.Port = port
	targets := [][2]string{{"tcp", fmt.Sprintf("127.0.0.1:%d", port)}, {"unix", path}}
	fds := []int{ls[0].Fd(), ls[1].Fd()}
	for i := range 2 {
		if ok, err := ls[i].Refuse(); !ok || err != nil {
			t.Fatalf("%s: Refuse = %v, %v", targets[i][1], ok, err)
		}
		if !ls[i].Refusing() || ls[i].Fd() != fds[i] {
			t.Errorf("%s: Refusing %v, fd %d; want true, %d", targets[i][1], ls[i].Refusing(), ls[i].Fd(), fds[i])
		}
		begin := time.Now()
		_, err := net.DialTimeout(targets[i][0], targets[i][1], 5*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(begin) > 100*time.Millisecond {
			t.Errorf("%s: dial while refusing: %v after %v; want ECONNREFUSED within 100ms", targets[i][1], err, time.Since(begin))
		}
	}
	if ok, err := ls[2].Refuse(); ok || err != nil {
		t.Errorf("datagram: Refuse = %v, %v; want false, nil", ok, err)
	}
	for i := range 2 {
		if err := ls[i].Reopen(s); err != nil {
			t.Fatalf("%s: Reopen: %v", targets[i][1], err)
		}
		if ls[i].Refusing() || ls[i].Fd() != fds[i] {
			t.Errorf("%s: after Reopen: Refusing %v, fd %d; want false, %d", targets[i][1], ls[i].Refusing(), ls[i].Fd(), fds[i])
		}
		c, err := net.DialTimeout(targets[i][0], targets[i][1], 5*time.Second)
		if err != nil {
			t.Fatalf("%s: dial after Reopen: %v", targets[i][1], err)
		}
		nfd, _, err := unix.Accept4(fds[i], unix.SOCK_CLOEXEC)
		if err != nil {
			t.Errorf("%s: accept after Reopen: %v", targets[i][1], err)
		} else {
			unix.Close(nfd)
		}
		c.Close()
	}
	// RemoveOnStop= removes the node Reopen made.
	ls[1].Close()
	if err := ls[1].Remove(); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if _, err := net.Dial("unix", path); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("after Remove: %v; want ENOENT", err)
	}
}
