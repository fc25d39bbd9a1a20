package units

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MaxFileSize is the largest unit file or drop-in ReadFile reads: 4 MiB,
// four lines of systemd's longest (LONG_LINE_MAX, 1 MiB). Real unit files
// are a few hundred bytes; the cap keeps a huge (or sparse) file from
// taking sockd's memory.
const MaxFileSize = 4 << 20

// ReadFile returns the content of the unit file at path, as os.ReadFile
// does, errors included (*os.PathError), but only from a regular file of
// at most MaxFileSize bytes that is not on a kernel pseudo file system
// (/proc, /sys): a FIFO, a device or /proc/kmsg, put in a unit directory
// by mistake or on purpose, is refused at once instead of hanging the
// load. Unit files are small and many (10,000 units are 10,000 files or
// more, read at start-up), so it reads with open, fstat, read and close
// alone into a buffer on the stack and allocates the result once.
func ReadFile(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO does not wait for a writer, and a read
	// that would block fails instead.
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	fd, err := unix.Open(path, flags, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := checkRegular(fd); err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	var small [4096]byte
	buf := small[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow: a file larger than small
		}
		want := min(cap(buf), MaxFileSize+1)
		n, err := unix.Read(fd, buf[len(buf):want])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return append([]byte(nil), buf...), nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) > MaxFileSize {
			return nil, &os.PathError{Op: "read", Path: path, Err: errTooLarge}
		}
	}
}

var errTooLarge = fmt.Errorf("larger than %d bytes, the most a unit file may have", MaxFileSize)

// checkRegular refuses what is not a regular file of at most MaxFileSize
// bytes on a real file system.
func checkRegular(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("not a regular file (%s)", FileKind(st.Mode))
	}
	if st.Size > MaxFileSize {
		return errTooLarge
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return err
	}
	switch fs.Type {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC, unix.SECURITYFS_MAGIC:
		return fmt.Errorf("on a kernel pseudo file system, not a unit file")
	}
	return nil
}

// FileKind names the type in a stat mode, for messages: "a FIFO", "a
// directory", …
func FileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFLNK:
		return "a symlink"
	}
	return "of an unknown type"
}
