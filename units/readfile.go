package units

import (
	"os"

	"golang.org/x/sys/unix"
)

// ReadFile returns the content of the unit file at path, as os.ReadFile
// does, errors included (*os.PathError). Unit files are small and many
// (10,000 units are 10,000 files or more, read at start-up), so it reads
// with open, read and close alone into a buffer on the stack and
// allocates the result once: os.ReadFile also makes an *os.File, with an
// fstat and fcntl calls and a buffer of the file's size plus 512 bytes,
// which made it twice as slow on these files.
func ReadFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var small [4096]byte
	buf := small[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow: a file larger than small
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return append([]byte(nil), buf...), nil
		}
		buf = buf[:len(buf)+n]
	}
}
