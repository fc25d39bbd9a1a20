package sandbox

import (
	"fmt"
	"os"
	"strings"

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
// made with mknod(2) as systemd makes them, or, in a user namespace where
// mknod(2) is not allowed, bind mounts of the host's (as bubblewrap makes
// them).
func privateDev() error {
	mknod := inInitialUserNS()
	nodes := map[string]unix.Stat_t{}
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
		var st unix.Stat_t
		if mknod && unix.Stat("/dev/"+n, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR {
			nodes[n] = st
			continue
		}
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
		if st, ok := nodes[n]; ok {
			if err := makeNode("/dev/"+n, st); err != nil {
				return err
			}
			continue
		}
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

// makeNode creates a device node like st, with st's permissions.
func makeNode(path string, st unix.Stat_t) error {
	if err := unix.Mknod(path, st.Mode, int(st.Rdev)); err != nil {
		return fmt.Errorf("mknod %s: %w", path, err)
	}
	if err := unix.Chmod(path, st.Mode&0o7777); err != nil {
		return err
	}
	return unix.Chown(path, int(st.Uid), int(st.Gid))
}

// inInitialUserNS reports whether the calling process is in the initial
// user namespace, where root may mknod(2).
func inInitialUserNS() bool {
	m, err := os.ReadFile("/proc/self/uid_map")
	return err == nil && strings.Join(strings.Fields(string(m)), " ") == "0 0 4294967295"
}
