package activation

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// sock describes a socket being set up, for the option functions.
type sock struct {
	fd     int
	family int
	typ    int
}

func (k sock) ip() bool    { return k.family == unix.AF_INET || k.family == unix.AF_INET6 }
func (k sock) ip6() bool   { return k.family == unix.AF_INET6 }
func (k sock) tcp() bool   { return k.ip() && k.typ == unix.SOCK_STREAM }
func (k sock) local() bool { return k.family == unix.AF_UNIX }

// setup creates a blocking, close-on-exec socket, applies the options
// around bindFn and listens if the type accepts connections. On error the
// socket is closed; undoing what bindFn made is the caller's business.
func setup(s *units.Socket, family, typ int, bindFn func(fd int) error) (fd int, warns []error, err error) {
	return setupProto(s, family, typ, 0, bindFn)
}

// setupProto is setup with the protocol argument of socket(2).
func setupProto(s *units.Socket, family, typ, proto int, bindFn func(fd int) error) (fd int, warns []error, err error) {
	fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, nil, os.NewSyscallError("socket", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	k := sock{fd: fd, family: family, typ: typ}
	if warns, err = applyOptions(k, s, beforeBind, warns); err != nil {
		return fd, nil, err
	}
	if err = bindFn(fd); err != nil {
		return fd, nil, err
	}
	if warns, err = applyOptions(k, s, afterBind, warns); err != nil {
		return fd, nil, err
	}
	if typ == unix.SOCK_STREAM || typ == unix.SOCK_SEQPACKET {
		if err = unix.Listen(fd, backlog(s)); err != nil {
			return fd, nil, os.NewSyscallError("listen", err)
		}
	}
	return fd, warns, nil
}

// backlog returns Backlog=, or the largest value (the kernel caps it at
// net.core.somaxconn) when it is unset, as systemd does.
func backlog(s *units.Socket) int {
	if s.Backlog > 0 {
		return s.Backlog
	}
	return math.MaxInt32
}

// bindTo returns a bind step for a fixed address.
func bindTo(sa unix.Sockaddr) func(fd int) error {
	return func(fd int) error {
		if err := unix.Bind(fd, sa); err != nil {
			return os.NewSyscallError("bind", err)
		}
		return nil
	}
}

// bindIP makes a TCP or UDP listener.
func bindIP(s *units.Socket, spec units.Listener) (int, []error, error) {
	typ, err := sockType(spec.Kind)
	if err != nil {
		return -1, nil, err
	}
	family, sa, err := ipSockaddr(spec.Address)
	if err != nil {
		return -1, nil, err
	}
	return setupProto(s, family, typ, socketProtocol(s), bindTo(sa))
}

// bindVsock makes an AF_VSOCK listener.
func bindVsock(s *units.Socket, spec units.Listener) (int, []error, error) {
	typ, err := sockType(spec.Kind)
	if err != nil {
		return -1, nil, err
	}
	sa := &unix.SockaddrVM{CID: spec.Address.CID, Port: spec.Address.Port}
	return setup(s, unix.AF_VSOCK, typ, bindTo(sa))
}

// ipSockaddr returns the family and socket address for an inet or inet6
// address. A bare port is [::]:PORT, or 0.0.0.0:PORT without IPv6.
func ipSockaddr(a units.Address) (int, unix.Sockaddr, error) {
	if a.Port > math.MaxUint16 {
		return 0, nil, fmt.Errorf("port %d out of range", a.Port)
	}
	port := int(a.Port)
	if a.BarePort {
		if !ipv6Supported() {
			return unix.AF_INET, &unix.SockaddrInet4{Port: port}, nil
		}
		return unix.AF_INET6, &unix.SockaddrInet6{Port: port}, nil
	}
	if a.Family == units.FamilyInet {
		if !a.IP.Is4() {
			return 0, nil, fmt.Errorf("%v is not an IPv4 address", a.IP)
		}
		return unix.AF_INET, &unix.SockaddrInet4{Port: port, Addr: a.IP.As4()}, nil
	}
	zone, err := zoneIndex(a.IP)
	if err != nil {
		return 0, nil, err
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: port, ZoneId: zone, Addr: a.IP.As16()}, nil
}

// zoneIndex resolves the zone of an IPv6 address (an interface name or
// number) to an interface index, at bind time.
func zoneIndex(ip netip.Addr) (uint32, error) {
	z := ip.Zone()
	if z == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(z, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(z)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", z, unix.ENODEV)
	}
	return uint32(ifi.Index), nil
}

// ipv6Supported reports whether the kernel can make AF_INET6 sockets.
var ipv6Supported = sync.OnceValue(func() bool {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return errnoOf(err) != unix.EAFNOSUPPORT
	}
	unix.Close(fd)
	return true
})
