package upgrade

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Binary is a new sockd binary, opened once and checked on its fd: the
// check child and the upgrade itself execute that open file
// (ExecPath), never the path again, so nothing can swap the file between
// the check and the exec.
type Binary struct {
	// Path is the path it was opened by, for logs and for argv[0].
	Path string
	fd   int
}

// OpenBinary opens path for an upgrade of a sockd that runs as uid, and
// checks it on the opened fd: it must be a regular executable file,
// owned by root or uid and writable by neither group nor others, and
// every directory on its path (after symbolic links are resolved) must
// be owned by root or uid and writable by neither group nor others
// unless it is sticky (as /tmp is). Otherwise whoever may write there
// could make sockd, often root, run code of theirs. The path is walked
// one component at a time with O_NOFOLLOW, so a link swapped in after
// the resolution is refused, not followed.
func OpenBinary(path string, uid int) (*Binary, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("binary %q: not an absolute path", path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("binary %s: %w", path, err)
	}
	dir, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("binary %s: open /: %w", path, err)
	}
	if err := checkDir(dir, "/", uid); err != nil {
		unix.Close(dir)
		return nil, fmt.Errorf("binary %s: %w", path, err)
	}
	parts := strings.Split(strings.TrimPrefix(real, "/"), "/")
	walked := ""
	for i, name := range parts {
		walked += "/" + name
		last := i == len(parts)-1
		flags := unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if !last {
			flags |= unix.O_DIRECTORY
		}
		fd, err := unix.Openat(dir, name, flags, 0)
		unix.Close(dir)
		if err != nil {
			return nil, fmt.Errorf("binary %s: open %s: %w", path, walked, err)
		}
		dir = fd
		if last {
			break
		}
		if err := checkDir(dir, walked, uid); err != nil {
			unix.Close(dir)
			return nil, fmt.Errorf("binary %s: %w", path, err)
		}
	}
	if err := checkFile(dir, walked, uid); err != nil {
		unix.Close(dir)
		return nil, fmt.Errorf("binary %s: %w", path, err)
	}
	return &Binary{Path: path, fd: dir}, nil
}

// trustedOwner reports whether a file owned by owner may decide what a
// sockd running as uid executes: root's, or sockd's own user's.
func trustedOwner(owner uint32, uid int) bool { return owner == 0 || int(owner) == uid }

// checkDir checks a directory on the path of a binary, on its fd.
func checkDir(fd int, name string, uid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", name, os.NewSyscallError("fstat", err))
	}
	if !trustedOwner(st.Uid, uid) {
		return fmt.Errorf("directory %s is owned by uid %d, neither root nor sockd's uid %d", name, st.Uid, uid)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("directory %s is writable by its group or by others (mode %#o) and not sticky", name, st.Mode&0o7777)
	}
	return nil
}

// checkFile checks the binary itself, on its fd.
func checkFile(fd int, name string, uid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", name, os.NewSyscallError("fstat", err))
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file", name)
	case st.Mode&0o111 == 0:
		return fmt.Errorf("%s is not executable (mode %#o)", name, st.Mode&0o7777)
	case !trustedOwner(st.Uid, uid):
		return fmt.Errorf("%s is owned by uid %d, neither root nor sockd's uid %d", name, st.Uid, uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s is writable by its group or by others (mode %#o)", name, st.Mode&0o7777)
	}
	return nil
}

// ExecPath is the path that executes the opened file itself: execve(2)
// of /proc/self/fd/N runs the open file the fd refers to, not whatever
// the path names by then (the way fexecve(3) works). It is valid in
// this process and in a child forked from it, until Close.
func (b *Binary) ExecPath() string { return "/proc/self/fd/" + strconv.Itoa(b.fd) }

// FD returns the opened file's descriptor (O_PATH, close-on-exec).
func (b *Binary) FD() int { return b.fd }

// Close closes the binary's fd.
func (b *Binary) Close() error {
	if b == nil || b.fd < 0 {
		return nil
	}
	err := unix.Close(b.fd)
	b.fd = -1
	return err
}
