// Package safesock binds sockd's private Unix sockets (the control and
// handoff sockets) without ever exposing them with looser permissions, and
// without clobbering a live daemon's socket (the habit of tailscale's
// safesocket: dial before unlinking). See unix(7).
package safesock

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
)

// Listener is a Unix listener whose node is removed on Close only if it
// is still the one Listen bound.
type Listener struct {
	*net.UnixListener
	path string
	info fs.FileInfo
	once sync.Once
	err  error
}

// Listen binds a socket of network ("unix" or "unixpacket") at path with
// mode and group gid (-1 for none). It is bound in a fresh 0700 directory
// next to path, given its mode and group there, then renamed into place,
// so no one can connect while its permissions are looser than asked. A
// socket already at path is replaced only if nothing answers on it;
// anything that is not a socket is never replaced.
func Listen(network, path string, mode os.FileMode, gid int) (*Listener, error) {
	if err := clearStale(network, path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".sock-")
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	tpath := filepath.Join(tmp, filepath.Base(path))
	l, err := net.ListenUnix(network, &net.UnixAddr{Name: tpath, Net: network})
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	info, err := place(tpath, path, mode, gid)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	return &Listener{UnixListener: l, path: path, info: info}, nil
}

// place gives the socket at tpath its group and mode, then renames it to
// path.
func place(tpath, path string, mode os.FileMode, gid int) (fs.FileInfo, error) {
	if gid >= 0 {
		if err := os.Lchown(tpath, -1, gid); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(tpath, mode); err != nil {
		return nil, err
	}
	if err := os.Rename(tpath, path); err != nil {
		return nil, err
	}
	return os.Lstat(path)
}

// clearStale removes a socket left at path by a daemon that is gone. It
// dials first: if something answers, path is left alone and Listen fails.
func clearStale(network, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("socket %s: exists and is not a socket", path)
	}
	c, err := net.DialTimeout(network, path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("socket %s: another sockd is listening on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socket %s: cannot tell whether it is stale: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("socket %s: removing the stale socket: %w", path, err)
	}
	return nil
}

// Close closes the listener and removes its node if it is still ours.
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.err = l.UnixListener.Close()
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.info) {
			os.Remove(l.path)
		}
	})
	return l.err
}
