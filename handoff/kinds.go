package handoff

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// CheckKinds checks that the fd of every file is the kind of file its
// metadata says: a socket of the type of KindStream, KindDatagram or
// KindSequentialPacket (getsockopt SO_TYPE), or a FIFO for KindFIFO
// (fstat); files of other kinds pass. It costs a syscall for every such
// fd. Listeners calls it; Receive and Exchange do not, and leave it to
// a caller that uses the fds as they are, unless that caller checks
// more than the type itself, as sockd does before adopting a listener
// (type, address, listening). File.Listener and File.PacketConn need
// no check: net checks the socket's type.
func CheckKinds(files []File) error {
	for i := range files {
		if err := checkKind(files[i].Kind, files[i].Fd); err != nil {
			return fmt.Errorf("handoff: file %s %s (%s): %w", files[i].Unit, files[i].Name, files[i].Addr, err)
		}
	}
	return nil
}

func checkKind(kind string, fd int) error {
	var typ int
	switch kind {
	case KindStream:
		typ = unix.SOCK_STREAM
	case KindDatagram:
		typ = unix.SOCK_DGRAM
	case KindSequentialPacket:
		typ = unix.SOCK_SEQPACKET
	case KindFIFO:
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return fmt.Errorf("kind %s but the fd is not a FIFO (mode %#o)", kind, st.Mode)
		}
		return nil
	default:
		return nil
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("kind %s: %w", kind, os.NewSyscallError("getsockopt SO_TYPE", err))
	}
	if got != typ {
		return fmt.Errorf("kind %s but the socket's type is %d, not %d", kind, got, typ)
	}
	return nil
}
