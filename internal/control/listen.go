package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socketListener is the control socket: a Unix listener whose node is
// removed on Close only if it is still the one we bound.
type socketListener struct {
	*net.UnixListener
	path string
	info fs.FileInfo
	lock *os.File
	once sync.Once
	err  error
}

// listen binds the control socket at path with mode (0600, or 0660 with a
// group) and group gid (-1 for none), with no window in which the socket
// is reachable with looser permissions: it is bound in a fresh 0700
// directory next to path, given its mode and group there, then renamed
// into place. A socket already at path is replaced only if nothing
// answers on it (a live sockd is never clobbered); path.lock, held with
// flock for the listener's life, keeps two sockd from racing for it.
func listen(path string, mode os.FileMode, gid int) (*socketListener, error) {
	dir := filepath.Dir(path)
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("control socket %s: another sockd is using it (%s.lock is locked)", path, path)
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	if err := clearStale(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, ".control-")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	tpath := filepath.Join(tmp, SocketName)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tpath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	fail := func(err error) (*socketListener, error) {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Lchown(tpath, -1, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(tpath, mode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tpath, path); err != nil {
		return fail(err)
	}
	info, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	ok = true
	return &socketListener{UnixListener: l, path: path, info: info, lock: lock}, nil
}

// clearStale removes a socket left at path by a sockd that is gone. It
// dials first: if something answers, it is a live daemon and path is left
// alone. Anything that is not a socket is left alone too.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another sockd is listening on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control socket %s: cannot tell whether it is stale: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket: removing stale %s: %w", path, err)
	}
	return nil
}

// Close closes the listener and removes its node if it is still ours.
func (l *socketListener) Close() error {
	l.once.Do(func() {
		l.err = l.UnixListener.Close()
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.info) {
			os.Remove(l.path)
		}
		l.lock.Close()
	})
	return l.err
}
