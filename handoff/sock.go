package handoff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// rawSeqpacket returns conn's raw connection, after checking that it is a
// SOCK_SEQPACKET socket.
func rawSeqpacket(conn *net.UnixConn) (syscall.RawConn, error) {
	if conn == nil {
		return nil, errors.New("handoff: nil connection")
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	var typ int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
	}); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	if serr != nil {
		return nil, fmt.Errorf("handoff: %w", os.NewSyscallError("getsockopt SO_TYPE", serr))
	}
	if typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("handoff: socket type %d: want SOCK_SEQPACKET (net \"unixpacket\")", typ)
	}
	return rc, nil
}

// sendPacket sends b, with fds in one SCM_RIGHTS control message, as one
// packet. It retries on EINTR and waits (within the connection's
// deadline) while the socket buffer is full.
func sendPacket(rc syscall.RawConn, b []byte, fds []int) error {
	if len(fds) > MaxFDsPerMessage {
		return fmt.Errorf("handoff: %d fds in one packet exceeds %d", len(fds), MaxFDsPerMessage)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	var n int
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			n, serr = unix.SendmsgN(int(fd), b, oob, nil, unix.MSG_NOSIGNAL)
			if serr != unix.EINTR {
				return serr != unix.EAGAIN
			}
		}
	})
	if err == nil && serr != nil {
		err = os.NewSyscallError("sendmsg", serr)
	}
	if err == nil && n != len(b) {
		err = fmt.Errorf("sendmsg sent %d of %d bytes", n, len(b))
	}
	if err != nil {
		return fmt.Errorf("handoff: sending packet with %d fds: %w", len(fds), err)
	}
	return nil
}

// oobSize is the control buffer of one received packet: room for
// MaxFDsPerMessage fds and for credentials, should the socket have
// SO_PASSCRED set.
var oobSize = unix.CmsgSpace(MaxFDsPerMessage*4) + unix.CmsgSpace(unix.SizeofUcred)

// recvPacket reads one packet into buf, with MSG_CMSG_CLOEXEC, retrying on
// EINTR. It returns the packet's length and the fds it carried, or an
// error after closing every fd the packet carried: the control message
// was truncated (MSG_CTRUNC), the packet did not fit buf (MSG_TRUNC), or
// a control message is malformed. A hang-up of the peer is io.EOF.
func recvPacket(rc syscall.RawConn, buf, oob []byte) (int, []int, error) {
	var n, oobn, flags int
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	// Take the fds first: whatever arrived must be closed on error.
	fds, perr := parseRights(oob[:max(oobn, 0)])
	switch {
	case err != nil:
	case rerr != nil:
		err = os.NewSyscallError("recvmsg", rerr)
	case perr != nil:
		err = perr
	case flags&unix.MSG_CTRUNC != 0:
		err = fmt.Errorf("control message truncated (MSG_CTRUNC) after %d fds: the rest were lost (too many fds for the buffer, or RLIMIT_NOFILE reached)", len(fds))
	case flags&unix.MSG_TRUNC != 0:
		err = fmt.Errorf("packet larger than %d bytes (MSG_TRUNC)", len(buf))
	case n == 0 && len(fds) == 0:
		return 0, nil, io.EOF
	}
	if err != nil {
		closeFDs(fds)
		return 0, nil, fmt.Errorf("handoff: receiving packet: %w", err)
	}
	return n, fds, nil
}

// peekSetSize returns how many files the set announces whose first
// packet is the next on rc, reading that packet's head with MSG_PEEK
// and no control buffer: the packet and its fds stay queued, and no fd
// is installed (the kernel drops the references it took for the peek).
// It returns 0 when it cannot tell: a JSON packet, which needs reading
// whole, or any error, which the caller's recvmsg meets again.
func peekSetSize(rc syscall.RawConn) int {
	var head [prefixLen + 1 + 3*4]byte // up to the set's total
	var n int
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, _, _, _, rerr = unix.Recvmsg(int(fd), head[:], nil, unix.MSG_PEEK)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err != nil || rerr != nil {
		return 0
	}
	return compactTotal(head[:max(n, 0)])
}

// parseRights returns every fd in the SCM_RIGHTS messages of oob. It
// parses every control message; on a malformed one it returns the fds
// found so far with the error, for the caller to close.
func parseRights(oob []byte) ([]int, error) {
	var fds []int
	for len(oob) > 0 {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return fds, fmt.Errorf("malformed control message: %w", err)
		}
		oob = rest
		if hdr.Level != unix.SOL_SOCKET || hdr.Type != unix.SCM_RIGHTS {
			continue // SCM_CREDENTIALS and the like carry no fds
		}
		got, err := unix.ParseUnixRights(&unix.SocketControlMessage{Header: hdr, Data: data})
		if err != nil {
			return fds, fmt.Errorf("malformed SCM_RIGHTS message: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// closeFDs closes every fd of fds.
func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
