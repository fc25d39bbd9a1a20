package activation

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// option is one socket option. set applies it when the unit asks for it
// and it fits the socket's family and type, and returns nil otherwise.
type option struct {
	directive string
	set       func(k sock, s *units.Socket) error
}

// beforeBind and afterBind list the options in systemd's order, except
// that IPTOS= comes before Priority=, so that an explicit Priority= wins
// over the priority the kernel derives from the TOS.
var beforeBind = []option{
	{"BindIPv6Only", setV6Only},
	{"BindToDevice", setBindToDevice},
	{"ReusePort", setReusePort},
	{"FreeBind", setFreeBind},
	{"Transparent", setTransparent},
	{"SO_REUSEADDR", setReuseAddr},
}

var afterBind = []option{
	{"KeepAlive", setKeepAlive},
	{"KeepAliveTimeSec", setKeepIdle},
	{"KeepAliveIntervalSec", setKeepIntvl},
	{"KeepAliveProbes", setKeepCnt},
	{"NoDelay", setNoDelay},
	{"DeferAcceptSec", setDeferAccept},
	{"IPTOS", setTOS}, // before Priority: IP_TOS also sets SO_PRIORITY
	{"Priority", setPriority},
	{"ReceiveBuffer", setRcvBuf},
	{"SendBuffer", setSndBuf},
	{"IPTTL", setTTL},
	{"Mark", setMark},
	{"Broadcast", setBroadcast},
	{"PassCredentials", setPassCred},
	{"PassPacketInfo", setPktInfo},
	{"PassSecurity", setPassSec},      // bind_more.go
	{"Timestamping", setTimestamping}, // bind_more.go
}

// warning marks an option failure that is reported but not fatal.
type warning struct{ err error }

func (w *warning) Error() string { return w.err.Error() }
func (w *warning) Unwrap() error { return w.err }

// applyOptions sets opts in order, appending tolerated failures to warns.
func applyOptions(k sock, s *units.Socket, opts []option, warns []error) ([]error, error) {
	for _, o := range opts {
		err := o.set(k, s)
		var w *warning
		switch {
		case err == nil:
		case errors.As(err, &w):
			warns = append(warns, fmt.Errorf("%s: %w", o.directive, w.err))
		default:
			return warns, fmt.Errorf("%s: %w", o.directive, err)
		}
	}
	return warns, nil
}

func setopt(fd, level, opt int, name string, v int) error {
	if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
		return os.NewSyscallError("setsockopt "+name, err)
	}
	return nil
}

// ipOpt sets the IPv4 or the IPv6 variant of an option, by family.
func ipOpt(k sock, v4, v6 int, n4, n6 string, v int) error {
	if k.ip6() {
		return setopt(k.fd, unix.IPPROTO_IPV6, v6, n6, v)
	}
	return setopt(k.fd, unix.IPPROTO_IP, v4, n4, v)
}

// seconds rounds a positive duration up to whole seconds.
func seconds(d time.Duration) int {
	n := (d + time.Second - 1) / time.Second
	return int(min(n, math.MaxInt32))
}

func setV6Only(k sock, s *units.Socket) error {
	if !k.ip6() {
		return nil
	}
	switch s.BindIPv6Only {
	case units.BindIPv6Both:
		return setopt(k.fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, "IPV6_V6ONLY", 0)
	case units.BindIPv6OnlyIPv6:
		return setopt(k.fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, "IPV6_V6ONLY", 1)
	}
	return nil
}

func setBindToDevice(k sock, s *units.Socket) error {
	if s.BindToDevice == "" || !k.ip() {
		return nil
	}
	if err := unix.BindToDevice(k.fd, s.BindToDevice); err != nil {
		return os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
	}
	return nil
}

func setReusePort(k sock, s *units.Socket) error {
	if !s.ReusePort || !k.ip() {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, "SO_REUSEPORT", 1)
}

func setFreeBind(k sock, s *units.Socket) error {
	if !s.FreeBind || !k.ip() {
		return nil
	}
	return ipOpt(k, unix.IP_FREEBIND, unix.IPV6_FREEBIND, "IP_FREEBIND", "IPV6_FREEBIND", 1)
}

func setTransparent(k sock, s *units.Socket) error {
	if !s.Transparent || !k.ip() {
		return nil
	}
	return ipOpt(k, unix.IP_TRANSPARENT, unix.IPV6_TRANSPARENT, "IP_TRANSPARENT", "IPV6_TRANSPARENT", 1)
}

func setReuseAddr(k sock, _ *units.Socket) error {
	if !k.ip() {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR", 1)
}

func setKeepAlive(k sock, s *units.Socket) error {
	if !s.KeepAlive || !k.tcp() {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE", 1)
}

func setKeepIdle(k sock, s *units.Socket) error {
	if s.KeepAliveTime <= 0 || !k.tcp() {
		return nil
	}
	return setopt(k.fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, "TCP_KEEPIDLE", seconds(s.KeepAliveTime))
}

func setKeepIntvl(k sock, s *units.Socket) error {
	if s.KeepAliveInterval <= 0 || !k.tcp() {
		return nil
	}
	return setopt(k.fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, "TCP_KEEPINTVL", seconds(s.KeepAliveInterval))
}

func setKeepCnt(k sock, s *units.Socket) error {
	if s.KeepAliveProbes <= 0 || !k.tcp() {
		return nil
	}
	return setopt(k.fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, "TCP_KEEPCNT", s.KeepAliveProbes)
}

func setNoDelay(k sock, s *units.Socket) error {
	if !s.NoDelay || !k.tcp() {
		return nil
	}
	return setopt(k.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, "TCP_NODELAY", 1)
}

func setDeferAccept(k sock, s *units.Socket) error {
	if s.DeferAccept <= 0 || !k.tcp() {
		return nil
	}
	return setopt(k.fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", seconds(s.DeferAccept))
}

func setPriority(k sock, s *units.Socket) error {
	if s.Priority == nil {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_PRIORITY, "SO_PRIORITY", *s.Priority)
}

func setMark(k sock, s *units.Socket) error {
	if s.Mark == nil {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_MARK, "SO_MARK", *s.Mark)
}

func setTOS(k sock, s *units.Socket) error {
	if s.IPTOS == nil || !k.ip() {
		return nil
	}
	if k.ip6() {
		if err := setopt(k.fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, "IPV6_TCLASS", *s.IPTOS); err != nil {
			return err
		}
	}
	return setopt(k.fd, unix.IPPROTO_IP, unix.IP_TOS, "IP_TOS", *s.IPTOS)
}

func setTTL(k sock, s *units.Socket) error {
	if s.IPTTL == nil || !k.ip() {
		return nil
	}
	if k.ip6() {
		if err := setopt(k.fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", *s.IPTTL); err != nil {
			return err
		}
	}
	return setopt(k.fd, unix.IPPROTO_IP, unix.IP_TTL, "IP_TTL", *s.IPTTL)
}

func setBroadcast(k sock, s *units.Socket) error {
	if !s.Broadcast || !k.ip() {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_BROADCAST, "SO_BROADCAST", 1)
}

func setPassCred(k sock, s *units.Socket) error {
	if !s.PassCredentials || !k.local() {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_PASSCRED, "SO_PASSCRED", 1)
}

func setPktInfo(k sock, s *units.Socket) error {
	if !s.PassPacketInfo || !k.ip() {
		return nil
	}
	return ipOpt(k, unix.IP_PKTINFO, unix.IPV6_RECVPKTINFO, "IP_PKTINFO", "IPV6_RECVPKTINFO", 1)
}

func setRcvBuf(k sock, s *units.Socket) error {
	return setBuffer(k, s.ReceiveBuffer, unix.SO_RCVBUF, unix.SO_RCVBUFFORCE, "SO_RCVBUF", "net.core.rmem_max")
}

func setSndBuf(k sock, s *units.Socket) error {
	return setBuffer(k, s.SendBuffer, unix.SO_SNDBUF, unix.SO_SNDBUFFORCE, "SO_SNDBUF", "net.core.wmem_max")
}

// setBuffer does what systemd's fd_set_rcvbuf does: set the size, read it
// back (the kernel stores twice the value, capped by the sysctl), and if
// it fell short, set it again with the FORCE variant, which needs
// CAP_NET_ADMIN. A refused FORCE is a warning.
func setBuffer(k sock, n int64, opt, force int, name, sysctl string) error {
	if n == 0 {
		return nil
	}
	if n < 0 || n > math.MaxInt32/2 {
		return fmt.Errorf("%d bytes: %w", n, unix.ERANGE)
	}
	if err := setopt(k.fd, unix.SOL_SOCKET, opt, name, int(n)); err != nil {
		return err
	}
	got, err := unix.GetsockoptInt(k.fd, unix.SOL_SOCKET, opt)
	if err != nil {
		return os.NewSyscallError("getsockopt "+name, err)
	}
	if int64(got) >= 2*n {
		return nil
	}
	err = setopt(k.fd, unix.SOL_SOCKET, force, name+"FORCE", int(n))
	if errnoOf(err) == unix.EPERM {
		return &warning{fmt.Errorf("%d bytes asked, %s capped it at %d: %w", n, sysctl, got/2, err)}
	}
	return err
}
