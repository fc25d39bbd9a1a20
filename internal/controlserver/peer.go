package controlserver

import (
	"context"
	"net"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Peer is the process at the other end of a control connection, as the
// kernel reported it when it connected (SO_PEERCRED, SO_PEERGROUPS).
type Peer struct {
	UID, GID, PID int
	// Groups are the peer's supplementary groups; nil if the kernel does
	// not report them (SO_PEERGROUPS is Linux 4.13+).
	Groups []int
}

// InGroup reports whether gid is the peer's group or one of its
// supplementary groups.
func (p Peer) InGroup(gid int) bool { return p.GID == gid || slices.Contains(p.Groups, gid) }

type peerKey struct{}

// PeerFrom returns the peer of the connection a request came on.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// connContext is the http.Server's ConnContext: it attaches the peer's
// credentials to the connection's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	p, err := peerOf(uc)
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func peerOf(c *net.UnixConn) (Peer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var p Peer
	var serr error
	err = rc.Control(func(fd uintptr) {
		var cred *unix.Ucred
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if serr != nil {
			return
		}
		p = Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}
		p.Groups = peerGroups(int(fd))
	})
	if err == nil {
		err = serr
	}
	return p, err
}

// peerGroups reads SO_PEERGROUPS; nil if the kernel does not support it.
func peerGroups(fd int) []int {
	buf := make([]uint32, 64)
	for range 3 {
		n := uint32(len(buf) * 4)
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch errno {
		case 0:
			out := make([]int, n/4)
			for i := range out {
				out[i] = int(buf[i])
			}
			return out
		case unix.ERANGE:
			buf = make([]uint32, n/4+1)
		default:
			return nil
		}
	}
	return nil
}
