package activation

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// A unit that failed for good (a trigger or start limit) must not leave
// clients waiting in a backlog nobody will serve: systemd closes its
// sockets, so that a client is refused at once, and binds them again when
// the unit is started again. Refuse and Reopen do that without changing
// the listener's descriptor number, which the rest of sockd (the watcher,
// an upgrade's saved state) knows the listener by: while refusing, the
// number holds a socket of the same family and type that is bound to
// nothing. A Unix socket's node stays in place (connect(2) on it is
// refused); an IP port is free for others meanwhile, as with systemd.

// Refuse closes the listening socket of a stream or seqpacket listener,
// keeping its descriptor number (see above). It reports false, and does
// nothing, for the kinds that have no connections to refuse.
func (l *Listener) Refuse() (bool, error) {
	if !l.spec.Kind.CanAccept() {
		return false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, nil
	}
	family, err := unix.GetsockoptInt(l.fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return false, os.NewSyscallError("getsockopt SO_DOMAIN", err)
	}
	typ, err := sockType(l.spec.Kind)
	if err != nil {
		return false, err
	}
	ph, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, os.NewSyscallError("socket", err)
	}
	defer unix.Close(ph)
	if err := unix.Dup3(ph, l.fd, unix.O_CLOEXEC); err != nil {
		return false, os.NewSyscallError("dup3", err)
	}
	return true, nil
}

// Refusing reports whether the listener is a stream or seqpacket socket
// that does not listen: Refuse closed it (in this sockd or in the one
// that handed it over) and Reopen did not bind it again.
func (l *Listener) Refusing() bool {
	if !l.spec.Kind.CanAccept() {
		return false
	}
	fd := l.Fd()
	if fd < 0 {
		return false
	}
	on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && on == 0
}

// Reopen binds a refusing listener again, from s, on its descriptor
// number; a listener that listens is left alone. Warnings go to
// l.Warnings.
func (l *Listener) Reopen(s *units.Socket) error {
	if !l.Refusing() {
		return nil
	}
	fresh, err := bindOne(s, l.spec)
	if err != nil {
		return fmt.Errorf("listen %s: %w", l.spec.Address, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	err = unix.Dup3(fresh.fd, l.fd, unix.O_CLOEXEC)
	unix.Close(fresh.fd)
	if err != nil {
		if fresh.node != nil {
			_ = fresh.node.undo()
		}
		return fmt.Errorf("listen %s: %w", l.spec.Address, os.NewSyscallError("dup3", err))
	}
	if fresh.node != nil {
		l.node = fresh.node
	}
	l.Warnings = fresh.Warnings
	return nil
}
