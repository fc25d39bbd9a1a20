package activation

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// FDReserve is how many fds at the top of sockd's RLIMIT_NOFILE no
// listener may take: the room an activation needs (/dev/null, the pipes
// for the service's output, its notify socket and pidfd), accepted
// connections of Accept=yes units, and the control and handoff
// connections. Without it, 300 listeners under a limit of 256 used every
// fd: sockctl hung and every activation failed. (Go raises the soft
// limit to the hard one at start, as systemd does for itself, so the
// hard limit is what counts.)
const FDReserve = 64

// checkHeadroom refuses a listener whose fd is within FDReserve of the
// soft RLIMIT_NOFILE. The kernel gives out the lowest free fd, so fd is
// a lower bound on the fds in use: the check is one getrlimit, not a
// count of /proc/self/fd, which would make binding many units quadratic.
func checkHeadroom(fd int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return nil
	}
	if uint64(fd)+FDReserve >= lim.Cur {
		return fmt.Errorf("out of file descriptors: this listener would be fd %d, and sockd keeps the last %d of its RLIMIT_NOFILE (%d) for activations and the control socket; raise sockd's limit (LimitNOFILE= of its own unit, or ulimit -Hn): %w",
			fd, FDReserve, lim.Cur, unix.EMFILE)
	}
	return nil
}
