package activation

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

// inNetns runs fn on a thread in a new network namespace with lo up and a
// veth pair sockd0/sockd1, sockd0 holding fe80::1 (no DAD). The namespace goes
// away with the thread, so nothing is left to clean up.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	testenv.RequireRoot(t, "creates a network namespace and a veth pair")
	onLockedThread(t, func() {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			return
		}
		// Commands forked from this thread inherit its namespace.
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"link", "add", "sockd0", "type", "veth", "peer", "name", "sockd1"},
			{"link", "set", "sockd0", "up"},
			{"link", "set", "sockd1", "up"},
			{"-6", "addr", "add", "fe80::1/64", "dev", "sockd0", "nodad"},
		} {
			if _, err := runCmd("ip", args...); err != nil {
				t.Errorf("setting up the namespace: %v", err)
				return
			}
		}
		fn()
	})
}

func TestBindToDeviceAndTransparent(t *testing.T) {
	inNetns(t, func() {
		s := newSocket(ipListener(units.Stream, "10.99.0.1", 0), ipListener(units.Datagram, "2001:db8::99", 0))
		s.BindToDevice, s.Transparent = "sockd0", true
		ls, err := Bind("t", s) // non-local addresses: Transparent lets them bind
		if err != nil {
			t.Errorf("Bind: %v", err)
			return
		}
		defer ls[0].Close()
		defer ls[1].Close()
		for i, l := range ls {
			dev, err := unix.GetsockoptString(l.Fd(), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
			if err != nil || dev != "sockd0" {
				t.Errorf("listener %d: SO_BINDTODEVICE = %q, %v", i, dev, err)
			}
		}
		wantOpts(t, ls[0].Fd(), "v4", [][3]int{{unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1}})
		wantOpts(t, ls[1].Fd(), "v6", [][3]int{{unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT, 1}})

		s = newSocket(ipListener(units.Stream, "127.0.0.1", 0))
		s.BindToDevice = "nosuchdev0"
		_, err = Bind("t", s)
		if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "BindToDevice: setsockopt SO_BINDTODEVICE") {
			t.Errorf("missing device: %v", err)
		}
	})
}

func TestZone(t *testing.T) {
	inNetns(t, func() {
		ifi, err := net.InterfaceByName("sockd0")
		if err != nil {
			t.Error(err)
			return
		}
		for _, zone := range []string{"sockd0", strconv.Itoa(ifi.Index)} {
			l := ipListener(units.Stream, "fe80::1%"+zone, 0)
			ls, err := Bind("t", newSocket(l))
			if err != nil {
				t.Errorf("zone %s: %v", zone, err)
				continue
			}
			sa, _ := unix.Getsockname(ls[0].Fd())
			if sa.(*unix.SockaddrInet6).ZoneId == 0 {
				t.Errorf("zone %s: bound without a scope", zone)
			}
			l.Address.Port = boundPort(t, ls[0].Fd())
			if ok, err := Matches(ls[0].Fd(), l); !ok || err != nil {
				t.Errorf("zone %s: Matches = %v, %v", zone, ok, err)
			}
			ls[0].Close()
		}
		_, err = Bind("t", newSocket(ipListener(units.Stream, "fe80::1%nosuchdev0", 0)))
		if !errors.Is(err, unix.ENODEV) {
			t.Errorf("missing zone device: %v", err)
		}
	})
}

// TestUnprivileged drops CAP_NET_ADMIN and CAP_NET_RAW on one thread: a
// capped buffer is a warning, a refused Mark= or Transparent= is fatal.
func TestUnprivileged(t *testing.T) {
	testenv.RequireRoot(t, "drops capabilities it must first have")
	max, err := readSysctl("net/core/rmem_max")
	testenv.Require(t, err == nil, fmt.Sprintf("reading net.core.rmem_max: %v", err))
	onLockedThread(t, func() {
		if err := dropCaps(unix.CAP_NET_ADMIN, unix.CAP_NET_RAW); err != nil {
			t.Errorf("capset: %v", err)
			return
		}
		s := newSocket(ipListener(units.Datagram, "127.0.0.1", 0))
		s.ReceiveBuffer = int64(max) * 2
		ls, err := Bind("t", s)
		if err != nil {
			t.Errorf("a capped ReceiveBuffer= failed the unit: %v", err)
			return
		}
		defer ls[0].Close()
		if w := ls[0].Warnings; len(w) != 1 || !strings.Contains(w[0].Error(), "ReceiveBuffer: ") || !errors.Is(w[0], unix.EPERM) {
			t.Errorf("warnings = %v", w)
		}
		if got := getInt(t, ls[0].Fd(), unix.SOL_SOCKET, unix.SO_RCVBUF); got != 2*max {
			t.Errorf("SO_RCVBUF = %d, want the cap %d", got, 2*max)
		}
		for name, set := range map[string]func(*units.Socket){
			"Mark: setsockopt SO_MARK":               func(s *units.Socket) { s.Mark = intp(1) },
			"Transparent: setsockopt IP_TRANSPARENT": func(s *units.Socket) { s.Transparent = true },
		} {
			s := newSocket(ipListener(units.Stream, "127.0.0.1", 0))
			set(s)
			_, err := Bind("t", s)
			if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}
