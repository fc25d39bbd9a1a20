package activation

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// flushMax bounds the connections or messages one Flush discards, so that
// a flood cannot keep it going.
const flushMax = 1024

// Flush discards what is queued on the listener, for FlushPending=
// (systemd.socket(5)): pending connections are accepted and closed,
// datagrams and netlink messages read and dropped, a FIFO or special
// file read until empty, a message queue emptied. It never blocks and
// returns how many it discarded.
func (l *Listener) Flush() (int, error) {
	fd := l.Fd()
	if fd < 0 {
		return 0, nil
	}
	n := 0
	for n < flushMax {
		var pfd = []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if k, err := unix.Poll(pfd, 0); err != nil && err != unix.EINTR {
			return n, fmt.Errorf("flush %s: poll: %w", l.spec.Address, err)
		} else if k == 0 || pfd[0].Revents&unix.POLLIN == 0 {
			return n, nil
		}
		empty, err := l.discardOne(fd)
		if err != nil {
			return n, fmt.Errorf("flush %s: %w", l.spec.Address, err)
		}
		if empty {
			return n, nil
		}
		n++
	}
	return n, nil
}

// discardOne drops one pending connection or message from fd, which is
// readable; empty is true at the end of a file.
func (l *Listener) discardOne(fd int) (empty bool, err error) {
	buf := make([]byte, 1<<16)
	switch {
	case l.spec.Kind.CanAccept():
		cfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
		if err == nil {
			unix.Close(cfd)
		}
		return false, ignoreGone(err)
	case l.spec.Address.Family == units.FamilyMQueue:
		return false, ignoreGone(mqReceive(fd, buf))
	case l.spec.Kind == units.FIFO || l.spec.Kind == units.Special:
		n, err := unix.Read(fd, buf)
		return n == 0 && err == nil, ignoreGone(err)
	default: // datagram and netlink sockets
		_, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		return false, ignoreGone(err)
	}
}

// ignoreGone treats what a racing reader or client causes (nothing left,
// the peer gone) as done.
func ignoreGone(err error) error {
	switch err {
	case nil, unix.EAGAIN, unix.ENOBUFS, unix.EINTR, unix.ECONNABORTED, unix.EPROTO, unix.EMSGSIZE:
		return nil
	}
	return err
}
