package activation

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// openFIFO makes (or reuses) the named pipe at path and opens it the way
// systemd does: O_RDWR|O_NONBLOCK|O_NOFOLLOW, so the open never blocks and
// the pipe never sees EOF while sockd holds it.
func openFIFO(s *units.Socket, path string) (int, *node, error) {
	uid, gid, err := owner(s)
	if err != nil {
		return -1, nil, err
	}
	n := &node{path: path, removeOnStop: s.RemoveOnStop}
	if n.dirs, err = mkdirParents(path, dirMode(s)); err != nil {
		return -1, nil, err
	}
	fd, err := n.makeFIFO(uid, gid, socketMode(s))
	if err != nil {
		_ = n.undo()
		return -1, nil, err
	}
	return fd, n, nil
}

// makeFIFO creates the FIFO with mode 0600 (no one but sockd's user can
// open it yet), opens it, then sets owner and mode through the descriptor.
// An existing FIFO is reused; anything else at the path is an error.
func (n *node) makeFIFO(uid, gid int, mode uint32) (int, error) {
	err := unix.Mkfifo(n.path, 0o600)
	switch {
	case err == nil:
		n.created = true
	case err != unix.EEXIST:
		return -1, &os.PathError{Op: "mkfifo", Path: n.path, Err: err}
	default:
		var st unix.Stat_t
		if err := unix.Lstat(n.path, &st); err != nil {
			return -1, &os.PathError{Op: "lstat", Path: n.path, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return -1, fmt.Errorf("mkfifo: the path exists and is not a FIFO: %w", unix.EEXIST)
		}
	}
	fd, err := unix.Open(n.path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: n.path, Err: err}
	}
	if err := n.settle(fd, unix.S_IFIFO, uid, gid, mode); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
