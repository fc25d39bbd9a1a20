package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The directories and nodes a private /dev keeps (mount_private_dev()).
var (
	devDirs = []struct {
		name     string
		required bool
	}{{"pts", true}, {"shm", false}, {"mqueue", false}, {"hugepages", false}}
	devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}
	devLinks = [][2]string{{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"log", "/run/systemd/journal/dev-log"}}
)

// privateDev replaces /dev with a new tmpfs holding only the pseudo
// devices, /dev/pts, /dev/shm (and mqueue, hugepages) and the usual
// symbolic links: no block device, no disk, no /dev/mem. The nodes are
// bind mounts of the host's (as bubblewrap makes them), which also works
// in a user namespace where mknod(2) does not.
func privateDev() error {
	clones := map[string]int{}
	defer func() {
		for _, fd := range clones {
			unix.Close(fd)
		}
	}()
	clone := func(name string, required bool) error {
		fd, err := unix.OpenTree(unix.AT_FDCWD, "/dev/"+name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			if required {
				return fmt.Errorf("clone /dev/%s: %w", name, err)
			}
			return nil
		}
		clones[name] = fd
		return nil
	}
	for _, d := range devDirs {
		if err := clone(d.name, d.required); err != nil {
			return err
		}
	}
	for _, n := range devNodes {
		if err := clone(n, n != "tty"); err != nil {
			return err
		}
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_STRICTATIME,
		"mode=0755,size=4m,nr_inodes=64k"); err != nil {
		return fmt.Errorf("tmpfs on /dev: %w", err)
	}
	for _, d := range devDirs {
		fd, ok := clones[d.name]
		if !ok {
			continue
		}
		if err := os.Mkdir("/dev/"+d.name, 0o755); err != nil {
			return err
		}
		if err := unix.MoveMount(fd, "", unix.AT_FDCWD, "/dev/"+d.name, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("move /dev/%s: %w", d.name, err)
		}
	}
	for _, n := range devNodes {
		fd, ok := clones[n]
		if !ok {
			continue
		}
		f, err := os.OpenFile("/dev/"+n, os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := unix.MoveMount(fd, "", unix.AT_FDCWD, "/dev/"+n, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("move /dev/%s: %w", n, err)
		}
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[1], "/dev/"+l[0]); err != nil {
			return err
		}
	}
	return nil
}
