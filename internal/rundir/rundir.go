// Package rundir opens sockd's runtime directory (/run/sockd, or
// $XDG_RUNTIME_DIR/sockd), which holds the control socket, its lock and
// the handoff socket, so that no other user can have a hand in it.
//
// sockd creates the directory itself with mkdir(2), opens it with
// O_NOFOLLOW|O_DIRECTORY and checks the open directory with fstat(2): it
// must belong to sockd's user and be mode 0700 (or 0710 with the control
// group, see AllowGroup), and its parent must not let other users rename
// it away (writable by group or others only with the sticky bit).
// Anything else, in particular a directory another user created first or
// a symlink, is refused with an error that says what to fix, never
// adopted or chmod'ed. From then on every file in it is reached through
// the open directory (At), never by resolving the path again.
package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Dir is the open, checked runtime directory.
type Dir struct {
	path string
	fd   int
	via  string // prefix that reaches the directory through fd
}

// Open creates the runtime directory at path if it is missing (its
// parents with mode 0755, itself with 0700), opens it and checks it (see
// the package doc). A directory of mode 0710 (a control group's) is
// left so: a sockd taking over from another must not lock the group out
// before it knows it will serve (see AllowGroup and Private). The
// directory stays open until Close.
func Open(path string) (*Dir, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("runtime directory %s: not an absolute path", path)
	}
	path = filepath.Clean(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	err := unix.Mkdir(path, 0o700)
	created := err == nil
	if err != nil && err != unix.EEXIST {
		return nil, fmt.Errorf("runtime directory: %w", &os.PathError{Op: "mkdir", Path: path, Err: err})
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP || err == unix.ENOTDIR {
			return nil, fmt.Errorf("runtime directory %s: is a symlink or not a directory; remove it and let sockd create it", path)
		}
		return nil, fmt.Errorf("runtime directory: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	d := &Dir{path: path, fd: fd}
	if created { // the umask may have taken bits away
		err = unix.Fchmod(fd, 0o700)
	}
	if err == nil {
		err = d.check()
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	d.via = d.procPath()
	return d, nil
}

// check refuses a directory that is not sockd's own and private, and a
// parent that would let another user swap it.
func (d *Dir) check() error {
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return fmt.Errorf("runtime directory %s: %w", d.path, os.NewSyscallError("fstat", err))
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("runtime directory %s: owned by uid %d, not by sockd's uid %d: another user may have created it; remove it and let sockd create it", d.path, st.Uid, euid)
	}
	switch perm := st.Mode & 0o7777; perm {
	case 0o700, 0o710: // 0710: a control group's, set by this sockd or the one before
	default:
		return fmt.Errorf("runtime directory %s: mode %04o, want 0700 (or 0710 with a control group): others may have put files in it; remove it and let sockd create it", d.path, perm)
	}
	return checkParent(filepath.Dir(d.path))
}

// checkParent refuses a parent directory in which another user could
// rename the runtime directory away and put one of their own in its
// place: one writable by group or others without the sticky bit, or not
// owned by root or sockd's user.
func checkParent(parent string) error {
	var st unix.Stat_t
	if err := unix.Stat(parent, &st); err != nil {
		return fmt.Errorf("runtime directory: %w", &os.PathError{Op: "stat", Path: parent, Err: err})
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("runtime directory: its parent %s is owned by uid %d, who could replace it", parent, st.Uid)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("runtime directory: its parent %s (mode %04o) is writable by other users and not sticky, so they could replace it", parent, st.Mode&0o7777)
	}
	return nil
}

// procPath returns /proc/self/fd/N if it reaches the open directory,
// else the directory's path (no /proc: a rare sandbox).
func (d *Dir) procPath() string {
	p := "/proc/self/fd/" + strconv.Itoa(d.fd)
	var a, b unix.Stat_t
	if unix.Stat(p, &a) == nil && unix.Fstat(d.fd, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino {
		return p
	}
	return d.path
}

// Path returns the directory's path, for logs and for clients.
func (d *Dir) Path() string { return d.path }

// At returns a path to name inside the open directory that does not
// resolve the directory's path again (/proc/self/fd/N/name), valid in
// this process while the Dir is open: give it to bind(2) and open(2).
func (d *Dir) At(name string) string { return d.via + "/" + name }

// AllowGroup lets the members of group gid traverse the directory (mode
// 0710, owned by gid), to reach a control socket of mode 0660; no more.
func (d *Dir) AllowGroup(gid int) error {
	if err := unix.Fchown(d.fd, -1, gid); err != nil {
		return fmt.Errorf("runtime directory %s: %w", d.path, os.NewSyscallError("fchown", err))
	}
	if err := unix.Fchmod(d.fd, 0o710); err != nil {
		return fmt.Errorf("runtime directory %s: %w", d.path, os.NewSyscallError("fchmod", err))
	}
	return nil
}

// Private makes the directory mode 0700 again, for a sockd without a
// control group.
func (d *Dir) Private() error {
	if err := unix.Fchmod(d.fd, 0o700); err != nil {
		return fmt.Errorf("runtime directory %s: %w", d.path, os.NewSyscallError("fchmod", err))
	}
	return nil
}

// OpenFile opens name in the directory with flags (O_NOFOLLOW and
// O_CLOEXEC added) and mode: a symlink planted there is never followed.
func (d *Dir) OpenFile(name string, flags int, mode uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%w (a symlink)", err)
		}
		return nil, &os.PathError{Op: "open", Path: filepath.Join(d.path, name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.path, name)), nil
}

// Close closes the directory; At's paths stop working.
func (d *Dir) Close() error { return unix.Close(d.fd) }
