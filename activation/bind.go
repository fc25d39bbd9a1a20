package activation

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// Listener is one bound listening socket or open FIFO of a unit.
type Listener struct {
	// Name is the name passed in LISTEN_FDNAMES: FileDescriptorName= or,
	// by default, the unit name given to Bind.
	Name string
	// Warnings holds the option failures that sockd tolerates (see the
	// package doc); the caller should log them.
	Warnings []error

	spec   units.Listener
	node   *node  // nil for sockets without a path
	mqueue string // the message queue Remove unlinks (RemoveOnStop=), or ""

	mu     sync.Mutex
	fd     int
	closed bool
}

// Fd returns the listener's descriptor, or -1 once it is closed. It stays
// owned by the Listener: dup it to pass it on.
func (l *Listener) Fd() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return -1
	}
	return l.fd
}

// Spec returns the Listen*= line the listener was made from.
func (l *Listener) Spec() units.Listener { return l.spec }

// Close closes the descriptor. It leaves the file system node in place
// (see Remove). Closing twice is a no-op.
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if err := unix.Close(l.fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// Remove unlinks the listener's file system node and the unit's symlinks
// if the unit set RemoveOnStop=, and if they are still the ones this
// Listener created. It does nothing otherwise. Call it when the unit
// stops, not when the socket is handed to another sockd.
func (l *Listener) Remove() error {
	if l.mqueue != "" {
		return unlinkMQueue(l.mqueue)
	}
	if l.node == nil || !l.node.removeOnStop {
		return nil
	}
	return l.node.remove()
}

// Bind creates every listener of a socket unit, in order. unit is the
// socket unit's name as systemd spells it ("web.socket"); it names the
// unit in errors and is the default descriptor name, as in systemd. On
// failure Bind undoes what it did and returns an error naming the unit,
// the address and the errno.
func Bind(unit string, s *units.Socket) ([]*Listener, error) {
	return BindWith(unit, s, nil)
}

// bindOne makes one listener; on error it leaves nothing behind.
func bindOne(s *units.Socket, spec units.Listener) (*Listener, error) {
	l := &Listener{spec: spec, fd: -1}
	if ok, err := bindMore(s, l); ok {
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	var err error
	switch spec.Address.Family {
	case units.FamilyInet, units.FamilyInet6:
		l.fd, l.Warnings, err = bindIP(s, spec)
	case units.FamilyVsock:
		l.fd, l.Warnings, err = bindVsock(s, spec)
	case units.FamilyUnix:
		l.fd, l.node, l.Warnings, err = bindUnix(s, spec)
	case units.FamilyFIFO:
		l.fd, l.node, err = openFIFO(s, spec.Address.Path)
		if err == nil {
			l.Warnings = appendWarning(l.Warnings, setPipeSize(l.fd, s))
		}
	default:
		err = fmt.Errorf("unsupported address family %q", spec.Address.Family)
	}
	if err != nil {
		return nil, err
	}
	if err := checkHeadroom(l.fd); err != nil { // headroom.go
		l.discard()
		return nil, err
	}
	if l.node != nil && len(s.Symlinks) > 0 {
		if err := l.node.link(s.Symlinks, dirMode(s)); err != nil {
			l.discard()
			return nil, err
		}
	}
	return l, nil
}

// discard closes l and removes whatever Bind created for it.
func (l *Listener) discard() {
	_ = l.Close()
	if l.node != nil {
		_ = l.node.undo()
	}
}

// checkSymlinks refuses Symlinks= unless the unit has exactly one listener
// with a file system path: systemd refuses such units at load time.
func checkSymlinks(s *units.Socket) error {
	if len(s.Symlinks) == 0 {
		return nil
	}
	n := 0
	for _, l := range s.Listeners {
		if l.Address.HasPath() {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("Symlinks= needs exactly one listener with a file system path, the unit has %d", n)
	}
	return nil
}

// sockType maps a listener kind to a socket type.
func sockType(k units.ListenerKind) (int, error) {
	switch k {
	case units.Stream:
		return unix.SOCK_STREAM, nil
	case units.Datagram:
		return unix.SOCK_DGRAM, nil
	case units.SequentialPacket:
		return unix.SOCK_SEQPACKET, nil
	}
	return 0, fmt.Errorf("listener kind %q cannot be a socket", k)
}

// errnoOf returns the errno inside err, or 0.
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}
