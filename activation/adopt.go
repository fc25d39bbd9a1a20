package activation

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// Matches reports whether fd, a descriptor sockd inherited (LISTEN_FDS),
// is what l describes, so that it can be adopted instead of bound: a
// socket of the same type (SO_TYPE), family and bound address
// (getsockname), listening (SO_ACCEPTCONN) if the kind accepts
// connections; or, for a FIFO, the very inode at l's path. A mismatch is
// (false, nil); an error means fd could not be inspected.
//
// Socket options, BindIPv6Only= included, are not compared.
func Matches(fd int, l units.Listener) (bool, error) {
	if l.Address.Family == units.FamilyFIFO {
		return sameFIFO(fd, l.Address.Path)
	}
	want, err := sockType(l.Kind)
	if err != nil {
		return false, nil
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err == unix.ENOTSOCK {
		return false, nil
	}
	if err != nil {
		return false, os.NewSyscallError("getsockopt SO_TYPE", err)
	}
	if typ != want {
		return false, nil
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false, os.NewSyscallError("getsockname", err)
	}
	if !sameAddr(sa, l.Address) {
		return false, nil
	}
	if !l.Kind.CanAccept() {
		return true, nil
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return false, os.NewSyscallError("getsockopt SO_ACCEPTCONN", err)
	}
	return acc != 0, nil
}

// sameAddr compares a bound address with a listen address.
func sameAddr(sa unix.Sockaddr, a units.Address) bool {
	port := int(a.Port)
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		if a.BarePort { // a kernel without IPv6 binds 0.0.0.0
			return sa.Port == port && sa.Addr == [4]byte{}
		}
		return a.Family == units.FamilyInet && a.IP.Is4() && sa.Port == port && sa.Addr == a.IP.As4()
	case *unix.SockaddrInet6:
		if a.Family != units.FamilyInet6 || sa.Port != port {
			return false
		}
		if a.BarePort {
			return sa.Addr == [16]byte{}
		}
		if sa.Addr != a.IP.As16() {
			return false
		}
		if !a.IP.IsLinkLocalUnicast() {
			return true // the kernel reports a scope only for link-local
		}
		zone, err := zoneIndex(a.IP)
		return err == nil && sa.ZoneId == zone
	case *unix.SockaddrUnix:
		return a.Family == units.FamilyUnix && sa.Name == a.Path
	case *unix.SockaddrVM:
		return a.Family == units.FamilyVsock && sa.CID == a.CID && sa.Port == a.Port
	}
	return false
}

// sameFIFO reports whether fd is the FIFO at path.
func sameFIFO(fd int, path string) (bool, error) {
	var st, pst unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return false, nil
	}
	if err := unix.Lstat(path, &pst); err != nil {
		return false, nil
	}
	return st.Dev == pst.Dev && st.Ino == pst.Ino, nil
}
