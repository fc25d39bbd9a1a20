package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

func intp(v int) *int { return &v }

// allOptions returns a unit asking for every option an IP socket takes.
func allOptions(ls ...units.Listener) *units.Socket {
	s := newSocket(ls...)
	s.BindIPv6Only = units.BindIPv6OnlyIPv6
	s.ReusePort, s.FreeBind, s.Transparent, s.Broadcast = true, true, true, true
	s.KeepAlive, s.NoDelay, s.PassPacketInfo, s.PassCredentials = true, true, true, true
	s.KeepAliveTime = 30 * time.Second
	s.KeepAliveInterval = 1500 * time.Millisecond // rounded up to 2
	s.KeepAliveProbes = 4
	s.DeferAccept = 7 * time.Second
	s.Priority, s.IPTOS, s.IPTTL, s.Mark = intp(5), intp(0x10), intp(42), intp(7)
	s.ReceiveBuffer = 1 << 20
	s.SendBuffer = 1 << 20
	return s
}

func TestTCPOptions(t *testing.T) {
	testenv.RequireRoot(t, "sets Transparent= and Mark=, which need CAP_NET_ADMIN")
	s := allOptions(ipListener(units.Stream, "127.0.0.1", 0), ipListener(units.Stream, "::1", 0))
	ls := bind(t, s)
	common := [][3]int{
		{unix.SOL_SOCKET, unix.SO_TYPE, unix.SOCK_STREAM},
		{unix.SOL_SOCKET, unix.SO_ACCEPTCONN, 1},
		{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
		{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 30},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 2},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 4},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 7},
		{unix.SOL_SOCKET, unix.SO_PRIORITY, 5},
		{unix.SOL_SOCKET, unix.SO_MARK, 7},
		{unix.SOL_SOCKET, unix.SO_RCVBUF, 2 << 20},
		{unix.SOL_SOCKET, unix.SO_SNDBUF, 2 << 20},
		{unix.SOL_SOCKET, unix.SO_BROADCAST, 1},
		{unix.IPPROTO_IP, unix.IP_TOS, 0x10},
		{unix.IPPROTO_IP, unix.IP_TTL, 42},
	}
	v4 := append([][3]int{
		{unix.IPPROTO_IP, unix.IP_FREEBIND, 1},
		{unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1},
		{unix.IPPROTO_IP, unix.IP_PKTINFO, 1},
	}, common...)
	v6 := append([][3]int{
		{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1},
		{unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, 1},
		{unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT, 1},
		{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1},
		{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 0x10},
		{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 42},
	}, common...)
	wantOpts(t, ls[0].Fd(), "v4", v4)
	wantOpts(t, ls[1].Fd(), "v6", v6)
	for _, l := range ls {
		checkFlags(t, l.Fd(), false)
		if len(l.Warnings) != 0 {
			t.Errorf("warnings: %v", l.Warnings)
		}
		if l.Name != "t" {
			t.Errorf("Name = %q, want the unit name", l.Name)
		}
	}
}

func TestBacklog(t *testing.T) {
	s := newSocket(ipListener(units.Stream, "127.0.0.1", 0))
	s.Backlog = 17
	ls := bind(t, s)
	// For a listening socket, ss reports the backlog as Send-Q.
	conns, err := unix.Getsockname(ls[0].Fd())
	if err != nil {
		t.Fatal(err)
	}
	port := conns.(*unix.SockaddrInet4).Port
	out, err := runCmd("ss", "-Hltn", fmt.Sprintf("sport = :%d", port))
	testenv.Require(t, err == nil, fmt.Sprintf("ss not usable: %v", err))
	if f := strings.Fields(out); len(f) < 3 || f[2] != "17" {
		t.Errorf("ss says %q, want Send-Q (backlog) 17", out)
	}
}

func TestBuffersForced(t *testing.T) {
	testenv.RequireRoot(t, "raises SO_RCVBUF past rmem_max with SO_RCVBUFFORCE")
	max, err := readSysctl("net/core/rmem_max")
	testenv.Require(t, err == nil, fmt.Sprintf("reading net.core.rmem_max: %v", err))
	s := newSocket(ipListener(units.Datagram, "127.0.0.1", 0))
	s.ReceiveBuffer = int64(max) * 2 // above the unprivileged cap
	ls := bind(t, s)
	wantOpts(t, ls[0].Fd(), "udp", [][3]int{{unix.SOL_SOCKET, unix.SO_RCVBUF, max * 4}})
	if len(ls[0].Warnings) != 0 {
		t.Errorf("warnings: %v", ls[0].Warnings)
	}
}

func TestUDP(t *testing.T) {
	s := newSocket(ipListener(units.Datagram, "127.0.0.1", 0), ipListener(units.Datagram, "::1", 0))
	s.Broadcast, s.PassPacketInfo, s.NoDelay, s.KeepAlive = true, true, true, true
	ls := bind(t, s)
	wantOpts(t, ls[0].Fd(), "udp4", [][3]int{
		{unix.SOL_SOCKET, unix.SO_TYPE, unix.SOCK_DGRAM},
		{unix.SOL_SOCKET, unix.SO_ACCEPTCONN, 0},
		{unix.SOL_SOCKET, unix.SO_BROADCAST, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0}, // TCP only
		{unix.IPPROTO_IP, unix.IP_PKTINFO, 1},
	})
	wantOpts(t, ls[1].Fd(), "udp6", [][3]int{{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1}})
	// A datagram reaches the socket.
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", boundPort(t, ls[0].Fd())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi"))
	buf := make([]byte, 8)
	n, _, err := unix.Recvfrom(ls[0].Fd(), buf, 0)
	if err != nil || string(buf[:n]) != "hi" {
		t.Errorf("recvfrom = %q, %v", buf[:n], err)
	}
}

func TestBarePortDualStack(t *testing.T) {
	ls := bind(t, newSocket(barePort(0)))
	fd := ls[0].Fd()
	sa, _ := unix.Getsockname(fd)
	if _, ok := sa.(*unix.SockaddrInet6); !ok {
		t.Fatalf("bare port bound %T, want [::]", sa)
	}
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", boundPort(t, fd)))
	if err != nil {
		t.Fatalf("IPv4 client: %v", err)
	}
	defer c.Close()
	nfd, peer, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(nfd)
	p6, ok := peer.(*unix.SockaddrInet6)
	if !ok || p6.Addr != [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1} {
		t.Errorf("peer = %#v, want ::ffff:127.0.0.1", peer)
	}
}

func TestBarePortIPv6Only(t *testing.T) {
	s := newSocket(barePort(0))
	s.BindIPv6Only = units.BindIPv6OnlyIPv6
	ls := bind(t, s)
	wantOpts(t, ls[0].Fd(), "v6only", [][3]int{{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1}})
	s.BindIPv6Only = units.BindIPv6Both
	ls = bind(t, s)
	wantOpts(t, ls[0].Fd(), "both", [][3]int{{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0}})
}

func TestFreeBind(t *testing.T) {
	for _, addr := range []string{"192.0.2.10", "2001:db8::10"} {
		l := ipListener(units.Stream, addr, 0)
		_, err := Bind("web", newSocket(l))
		if !errors.Is(err, unix.EADDRNOTAVAIL) {
			t.Fatalf("%s without FreeBind: %v, want EADDRNOTAVAIL", addr, err)
		}
		want := fmt.Sprintf("unit web: listen %s: bind: cannot assign requested address", l.Address)
		if err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
		s := newSocket(l)
		s.FreeBind = true
		bind(t, s) // never connected to
	}
}

func TestFailureClosesOthers(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := uint32(busy.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	before := countFDs(t)
	s := newSocket(
		ipListener(units.Stream, "127.0.0.1", 0),
		pathListener(units.Stream, dir+"/new/sub/web.sock"),
		pathListener(units.FIFO, dir+"/fifo/web.fifo"),
		ipListener(units.Datagram, "127.0.0.1", 0),
		ipListener(units.Stream, "127.0.0.1", port),
	)
	_, err = Bind("web", s)
	if !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("Bind = %v, want EADDRINUSE", err)
	}
	want := fmt.Sprintf("unit web: listen 127.0.0.1:%d: bind: address already in use", port)
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if after := countFDs(t); after != before {
		t.Errorf("%d descriptors open before Bind, %d after", before, after)
	}
	for _, p := range []string{dir + "/new", dir + "/fifo"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was left behind", p)
		}
	}
}
