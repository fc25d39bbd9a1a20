package activation

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// maxPathLen is the longest Unix socket path: sun_path holds 108 bytes,
// NUL included. The same limit applies to an abstract name, "@" included
// (x/sys/unix keeps the NUL there too, one byte short of the kernel's).
const maxPathLen = 107

// bindUnix makes an AF_UNIX stream, datagram or seqpacket listener on a
// path or an abstract name.
func bindUnix(s *units.Socket, spec units.Listener) (int, *node, []error, error) {
	typ, err := sockType(spec.Kind)
	if err != nil {
		return -1, nil, nil, err
	}
	path := spec.Address.Path
	if len(path) > maxPathLen {
		return -1, nil, nil, pathTooLong(path)
	}
	if spec.Address.IsAbstract() {
		fd, warns, err := setup(s, unix.AF_UNIX, typ, bindTo(&unix.SockaddrUnix{Name: path}))
		return fd, nil, warns, err
	}
	uid, gid, err := owner(s)
	if err != nil {
		return -1, nil, nil, err
	}
	n := &node{path: path, removeOnStop: s.RemoveOnStop}
	if n.dirs, err = mkdirParents(path, dirMode(s)); err != nil {
		return -1, nil, nil, err
	}
	mode := socketMode(s)
	fd, warns, err := setup(s, unix.AF_UNIX, typ, func(fd int) error {
		return n.bindSocket(fd, typ, uid, gid, mode)
	})
	if err != nil {
		_ = n.undo()
		return -1, nil, nil, err
	}
	return fd, n, warns, nil
}

func pathTooLong(path string) error {
	return fmt.Errorf("path is %d bytes, a Unix socket address holds %d: %w", len(path), maxPathLen, unix.ENAMETOOLONG)
}

// bindSocket binds fd to the node's path so that the node appears with
// mode 0, then sets its owner and mode. A stale socket in the way is
// removed; a live one, or anything that is not a socket, is an error.
func (n *node) bindSocket(fd, typ, uid, gid int, mode uint32) error {
	// The node takes the socket inode's mode (minus the umask).
	if err := unix.Fchmod(fd, 0); err != nil {
		return os.NewSyscallError("fchmod", err)
	}
	sa := &unix.SockaddrUnix{Name: n.path}
	err := unix.Bind(fd, sa)
	if err == unix.EADDRINUSE {
		if err := clearStale(n.path, typ); err != nil {
			return err
		}
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		return os.NewSyscallError("bind", err)
	}
	n.created = true
	pfd, err := unix.Open(n.path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: n.path, Err: err}
	}
	defer unix.Close(pfd)
	if err := n.settle(pfd, unix.S_IFSOCK, uid, gid, mode); err != nil {
		return err
	}
	// Give the socket inode back its usual mode; the node keeps its own.
	if err := unix.Fchmod(fd, 0o777); err != nil {
		return os.NewSyscallError("fchmod", err)
	}
	return nil
}

// clearStale removes the socket node at path if nothing answers on it.
func clearStale(path string, typ int) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("bind: the path exists and is not a socket, not removing it: %w", unix.EADDRINUSE)
	}
	live, err := probe(path, typ)
	if err != nil {
		return err
	}
	if live {
		return fmt.Errorf("bind: a live socket is at the path: %w", unix.EADDRINUSE)
	}
	// Through the directory, checked against the inode seen (unlinkat.go).
	parent, err := parentID(path)
	if err == nil {
		err = unlinkIf(path, parent, idOf(&st), "")
	}
	if err != nil {
		return fmt.Errorf("removing the stale socket: %w", err)
	}
	return nil
}

// probe connects to the socket at path without blocking. It is live if the
// connection is made or pending, if the backlog is full, or if the socket
// has another type; it is stale if the connection is refused.
func probe(path string, typ int) (bool, error) {
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	switch err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err {
	case nil, unix.EAGAIN, unix.EINPROGRESS, unix.EPROTOTYPE:
		return true, nil
	case unix.ECONNREFUSED, unix.ENOENT:
		return false, nil
	default:
		return false, os.NewSyscallError("connect to the existing socket", err)
	}
}
