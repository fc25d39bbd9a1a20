package supervise

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
	"golang.org/x/sys/unix"
)

// acceptedPeer listens on sa, connects to it from network/laddr with the
// standard library, and returns sockd's view of the accepted connection
// and the client's local port.
func acceptedPeer(t *testing.T, family int, sa unix.Sockaddr, network, raddr string) (peer, int) {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	testenv.Require(t, err == nil, fmt.Sprintf("no sockets of family %d: %v", family, err))
	defer unix.Close(fd)
	if family == unix.AF_INET6 { // dual stack, whatever net.ipv6.bindv6only says
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	err = unix.Bind(fd, sa)
	testenv.Require(t, err == nil, fmt.Sprintf("bind %v: %v", sa, err))
	unix.Listen(fd, 4)
	bound, _ := unix.Getsockname(fd)
	_, port, _ := ipOf(bound, false)
	c, err := net.Dial(network, net.JoinHostPort(raddr, strconv.Itoa(port)))
	testenv.Require(t, err == nil, fmt.Sprintf("dial %s: %v", raddr, err))
	defer c.Close()
	cfd, rsa, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)
	p, err := peerOf(cfd, rsa)
	if err != nil {
		t.Fatal(err)
	}
	return p, c.LocalAddr().(*net.TCPAddr).Port
}

// TestPeerIP: instance names, REMOTE_ADDR/REMOTE_PORT and sources of IP
// peers, as systemd makes them; an IPv4 client of a dual-stack listener
// appears in IPv4 form.
func TestPeerIP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		family   int
		sa       unix.Sockaddr
		network  string
		client   string
		instance string // with %d for the listener's, then the client's port
		addr     string // REMOTE_ADDR and the source
		display  string // with %d for the client's port
	}{
		{"IPv4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, "tcp4", "127.0.0.1",
			"7-127.0.0.1:%d-127.0.0.1:%d", "127.0.0.1", "127.0.0.1:%d"},
		{"IPv6", unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, "tcp6", "::1",
			"7-::1:%d-::1:%d", "::1", "[::1]:%d"},
		{"IPv4 on dual stack", unix.AF_INET6, &unix.SockaddrInet6{}, "tcp4", "127.0.0.1",
			"7-127.0.0.1:%d-127.0.0.1:%d", "127.0.0.1", "127.0.0.1:%d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cport := acceptedPeer(t, tc.family, tc.sa, tc.network, tc.client)
			_, lport, _ := ipOf(p.local, false)
			if got, want := p.instance(7), fmt.Sprintf(tc.instance, lport, cport); got != want {
				t.Errorf("instance %q, want %q", got, want)
			}
			if got, want := p.env(), []string{"REMOTE_ADDR=" + tc.addr, "REMOTE_PORT=" + strconv.Itoa(cport)}; !slices.Equal(got, want) {
				t.Errorf("env %q, want %q", got, want)
			}
			if got := p.source(); got != tc.addr {
				t.Errorf("source %q, want %q", got, tc.addr)
			}
			if got, want := p.String(), fmt.Sprintf(tc.display, cport); got != want {
				t.Errorf("String %q, want %q", got, want)
			}
		})
	}
}

// TestPeerUnixAddresses covers the Unix address forms without sockets.
func TestPeerUnixAddresses(t *testing.T) {
	cred := &unix.Ucred{Pid: 42, Uid: 1000}
	for _, tc := range []struct {
		remote               unix.Sockaddr
		cred                 *unix.Ucred
		instance, source, as string
		env                  []string
	}{
		{&unix.SockaddrUnix{Name: "@"}, cred, "3-42-1000", "uid:1000", "pid 42, uid 1000", nil},
		{&unix.SockaddrUnix{Name: "/run/c.sock"}, cred, "3-42-1000", "uid:1000", "/run/c.sock (pid 42, uid 1000)", []string{"REMOTE_ADDR=/run/c.sock"}},
		{&unix.SockaddrUnix{Name: "@abs"}, nil, "3-unknown", "uid:unknown", "@abs", []string{"REMOTE_ADDR=@abs"}},
		{&unix.SockaddrVM{CID: 3, Port: 99}, nil, "3-2:5-3:99", "vsock:3", "vsock:3:99", []string{"REMOTE_ADDR=vsock:3", "REMOTE_PORT=99"}},
	} {
		p := peer{remote: tc.remote, cred: tc.cred, local: &unix.SockaddrUnix{Name: "/run/l.sock"}}
		if _, ok := tc.remote.(*unix.SockaddrVM); ok {
			p.local = &unix.SockaddrVM{CID: 2, Port: 5}
		}
		if got := p.instance(3); got != tc.instance {
			t.Errorf("%v: instance %q, want %q", tc.remote, got, tc.instance)
		}
		if got := p.source(); got != tc.source {
			t.Errorf("%v: source %q, want %q", tc.remote, got, tc.source)
		}
		if got := p.String(); got != tc.as {
			t.Errorf("%v: String %q, want %q", tc.remote, got, tc.as)
		}
		if got := p.env(); !slices.Equal(got, tc.env) {
			t.Errorf("%v: env %q, want %q", tc.remote, got, tc.env)
		}
	}
}
