package activation

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// node is a listener's file system node (a Unix socket or a FIFO) and
// what Bind created around it.
type node struct {
	path         string
	removeOnStop bool
	dev, ino     uint64   // identity of the node, once known
	parent       fileID   // identity of the directory holding it, once known
	created      bool     // Bind made the node (it was not an existing FIFO)
	dirs         []string // directories Bind created, outermost first
	links        []string // symlinks pointing at path (made or found)
	madeLinks    []string // the symlinks Bind made
	// linkParents holds the identity of the directory of each symlink in
	// links, recorded when it was made or found.
	linkParents map[string]fileID
}

// remove unlinks the node and its symlinks if they are still ours.
func (n *node) remove() error {
	var errs []error
	for _, ln := range n.links {
		errs = append(errs, n.removeLink(ln))
	}
	errs = append(errs, n.unlinkNode())
	return errors.Join(errs...)
}

// undo removes everything Bind created for the node, after a failure.
func (n *node) undo() error {
	var errs []error
	for _, ln := range n.madeLinks {
		errs = append(errs, n.removeLink(ln))
	}
	if n.created {
		errs = append(errs, n.unlinkNode())
	}
	for i := len(n.dirs) - 1; i >= 0; i-- {
		_ = unix.Rmdir(n.dirs[i]) // only if still empty
	}
	return errors.Join(errs...)
}

// unlinkNode removes the node if the path still names the inode Bind
// made, through its directory opened without following symlinks
// (unlinkIf): a parent directory swapped for a symlink by a user who can
// write its parent never leads sockd to unlink a file elsewhere.
func (n *node) unlinkNode() error {
	if n.ino == 0 {
		return nil
	}
	return unlinkIf(n.path, n.parent, fileID{n.dev, n.ino}, "")
}

// settle checks the freshly opened node (an O_PATH or FIFO descriptor),
// records its identity, and gives it its owner and then its mode.
func (n *node) settle(fd int, kind uint32, uid, gid int, mode uint32) (err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT != kind || (n.created && int(st.Uid) != os.Geteuid()) {
		return fmt.Errorf("%s was replaced while it was being created: %w", n.path, unix.EEXIST)
	}
	n.dev, n.ino = st.Dev, st.Ino
	if n.parent, err = parentID(n.path); err != nil {
		return fmt.Errorf("%s: its directory: %w", n.path, err)
	}
	if uid != -1 || gid != -1 {
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			return &os.PathError{Op: "chown", Path: n.path, Err: err}
		}
	}
	return fchmod(fd, n.path, mode)
}

// fchmod sets the mode through fd, which may be an O_PATH descriptor.
func fchmod(fd int, path string, mode uint32) error {
	err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		// No fchmodat2 (Linux < 6.6): go through the descriptor's
		// /proc link, which does not follow a swapped-in symlink.
		err = unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
	}
	if err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// mkdirParents creates the missing parent directories of path with
// exactly mode and returns them, outermost first. On error it removes the
// ones it made.
func mkdirParents(path string, mode uint32) ([]string, error) {
	var missing []string
	for d := filepath.Dir(path); d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		err := mkdir(missing[i], mode)
		if errors.Is(err, unix.EEXIST) {
			continue // made by someone else meanwhile: not ours
		}
		if err != nil {
			for j := len(made) - 1; j >= 0; j-- {
				_ = unix.Rmdir(made[j])
			}
			return nil, err
		}
		made = append(made, missing[i])
	}
	return made, nil
}

// mkdir makes one directory; the umask can only take bits away, and the
// fchmod that follows puts them back.
func mkdir(d string, mode uint32) error {
	if err := unix.Mkdir(d, mode); err != nil {
		return &os.PathError{Op: "mkdir", Path: d, Err: err}
	}
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: d, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: d, Err: err}
	}
	return nil
}

// unixMode converts an os.FileMode to mode bits, accepting the special
// bits either as Go flags or as raw 07000 bits.
func unixMode(m os.FileMode) uint32 {
	bits := uint32(m & 0o7777)
	if m&os.ModeSetuid != 0 {
		bits |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		bits |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		bits |= unix.S_ISVTX
	}
	return bits
}

// socketMode and dirMode return SocketMode= and DirectoryMode=, with the
// systemd defaults for a zero value.
func socketMode(s *units.Socket) uint32 {
	if s.SocketMode == 0 {
		return 0o666
	}
	return unixMode(s.SocketMode)
}

func dirMode(s *units.Socket) uint32 {
	if s.DirectoryMode == 0 {
		return 0o755
	}
	return unixMode(s.DirectoryMode)
}

// owner resolves SocketUser= and SocketGroup= to ids, -1 meaning "leave
// as is". SocketUser= alone also sets the user's primary group, as
// systemd does. Names and numeric ids are accepted.
func owner(s *units.Socket) (uid, gid int, err error) {
	uid, gid = -1, -1
	if s.SocketUser != "" {
		if uid, gid, err = lookupUser(s.SocketUser); err != nil {
			return -1, -1, fmt.Errorf("SocketUser=%s: %w", s.SocketUser, err)
		}
	}
	if s.SocketGroup != "" {
		if gid, err = lookupGroup(s.SocketGroup); err != nil {
			return -1, -1, fmt.Errorf("SocketGroup=%s: %w", s.SocketGroup, err)
		}
	}
	return uid, gid, nil
}

func lookupUser(name string) (uid, gid int, err error) {
	var u *user.User
	if n, perr := strconv.Atoi(name); perr == nil && n >= 0 {
		if u, err = user.LookupId(name); err != nil {
			return n, -1, nil // a numeric id need not have an entry
		}
	} else if u, err = user.Lookup(name); err != nil {
		return -1, -1, err
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(g.Gid)
}
