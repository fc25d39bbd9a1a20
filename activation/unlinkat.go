package activation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// fileID is a file's identity: device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(st *unix.Stat_t) fileID { return fileID{uint64(st.Dev), st.Ino} }

// errSymlinkInPath says that a directory on the path became a symlink
// (or another directory) since sockd bound there: someone who can write
// one of the parents is redirecting sockd, so nothing is removed.
var errSymlinkInPath = errors.New("a directory on the path was replaced since it was bound (a symlink?); not removing anything through it")

// openDir opens directory dir as an O_PATH descriptor without following
// any symlink on the way: openat2(2) with RESOLVE_NO_SYMLINKS where the
// kernel has it (Linux 5.6), else a walk from "/" that opens one
// component at a time with O_NOFOLLOW.
func openDir(dir string) (int, error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd, err := unix.Openat2(unix.AT_FDCWD, dir, &unix.OpenHow{
		Flags:   flags,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err == nil || (err != unix.ENOSYS && err != unix.EPERM) { // EPERM: a seccomp filter that denies it
		return fd, err
	}
	return walkNoFollow(dir, flags)
}

// walkNoFollow is openDir without openat2.
func walkNoFollow(dir string, flags int) (int, error) {
	if !filepath.IsAbs(dir) {
		return -1, fmt.Errorf("%s: not an absolute path", dir)
	}
	fd, err := unix.Open("/", flags, 0)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(strings.TrimPrefix(filepath.Clean(dir), "/"), "/") {
		if c == "" {
			continue
		}
		next, err := unix.Openat(fd, c, flags|unix.O_NOFOLLOW, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// openParent opens the directory holding path without following a
// symlink on the way. If a symlink is on the way and parent is known
// (the directory sockd bound in), the directory is opened following it
// and accepted only if it is that very directory (a legitimate symlink
// such as /var/run). It returns the directory and path's last component.
func openParent(path string, parent fileID) (int, string, error) {
	dir, base := filepath.Split(path)
	fd, err := openDir(dir)
	if (err == unix.ELOOP || err == unix.ENOTDIR) && parent != (fileID{}) {
		fd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err == unix.ELOOP || err == unix.ENOTDIR {
		return -1, "", errSymlinkInPath
	}
	if err != nil {
		return -1, "", &os.PathError{Op: "open", Path: dir, Err: err}
	}
	if parent != (fileID{}) {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || idOf(&st) != parent {
			unix.Close(fd)
			return -1, "", errSymlinkInPath
		}
	}
	return fd, base, nil
}

// parentID returns the identity of the directory holding path, opened
// as openParent opens it.
func parentID(path string) (fileID, error) {
	fd, _, err := openParent(path, fileID{})
	if err == errSymlinkInPath { // a legitimate symlink at bind time, as /var/run
		fd, err = unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fileID{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileID{}, os.NewSyscallError("fstat", err)
	}
	return idOf(&st), nil
}

// unlinkIf removes path if it is still the file want says, or, for a
// symlink, (want zero) if it still points at target: through the
// directory opened by openParent, checked with fstatat and removed with
// unlinkat, so that no directory swapped in on the path is ever reached.
// A path that is gone, or now names something else, is left alone.
func unlinkIf(path string, parent, want fileID, target string) error {
	dfd, base, err := openParent(path, parent)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if want != (fileID{}) && idOf(&st) != want {
		return nil
	}
	if want == (fileID{}) {
		if st.Mode&unix.S_IFMT != unix.S_IFLNK || readlinkat(dfd, base) != target {
			return nil
		}
	}
	if err := unix.Unlinkat(dfd, base, 0); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}

func readlinkat(dfd int, name string) string {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dfd, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}
