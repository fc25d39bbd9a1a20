package controlserver

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/rundir"
	"github.com/sockd/sockd/internal/safesock"
)

// socketListener is the control socket, and the lock that keeps a second
// sockd off the runtime directory.
type socketListener struct {
	*safesock.Listener
	lock *os.File
}

// listen binds the control socket at path with mode (0600, or 0660 with a
// group) and group gid (-1 for none), with no window of looser
// permissions and never over a live daemon's socket (safesock.Listen).
// path.lock, held with flock for the listener's life, keeps two sockd
// from racing for it. With dir (the open runtime directory, which holds
// path), both are reached through it rather than by resolving path
// again, and path serves only to name them in messages.
func listen(path string, dir *rundir.Dir, mode os.FileMode, gid int) (*socketListener, error) {
	bindPath, lockName := path, path+".lock"
	var lock *os.File
	var err error
	if dir != nil {
		bindPath, lockName = dir.At(filepath.Base(path)), filepath.Base(path)+".lock"
		lock, err = dir.OpenFile(lockName, os.O_RDWR|os.O_CREATE, 0o600)
	} else {
		// O_NOFOLLOW: a symlink planted at the lock's name is not followed.
		lock, err = os.OpenFile(lockName, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("control socket %s: another sockd is using it (%s.lock is locked)", path, path)
	}
	l, err := safesock.Listen("unix", bindPath, mode, gid)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("control %w", err)
	}
	return &socketListener{Listener: l, lock: lock}, nil
}

// Close closes the listener, removes its node if it is still ours, and
// releases the lock.
func (l *socketListener) Close() error {
	err := l.Listener.Close()
	l.lock.Close()
	return err
}
