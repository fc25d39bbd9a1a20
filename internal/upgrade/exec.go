package upgrade

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exec re-executes sockd: the file bin has open runs with args, and
// finds data, the state, in a memfd named by $SOCKD_UPGRADE_STATE, and
// the binary this image runs, for a rollback, in
// $SOCKD_UPGRADE_PREVIOUS. The fds the state names must be inheritable.
// It returns only if the execve failed; nothing is left open then.
func Exec(bin *Binary, args []string, data []byte) error {
	// This image's own binary, even if its path now names another file.
	prev, err := unix.Open("/proc/self/exe", unix.O_PATH, 0) // inherited
	if err != nil {
		return fmt.Errorf("opening this sockd's binary, for a rollback: %w", os.NewSyscallError("open", err))
	}
	defer unix.Close(prev)
	argv := append([]string{bin.Path}, args...)
	return execState(bin.ExecPath(), argv, data, prev, "")
}

// execState writes data into a memfd and executes path with it; prev,
// if not negative, is the fd of the binary to roll back to, and reason,
// if set, says that this is a rollback.
func execState(path string, argv []string, data []byte, prev int, reason string) error {
	fd, err := unix.MemfdCreate("sockd-upgrade-state", 0) // inherited
	if err != nil {
		return os.NewSyscallError("memfd_create", err)
	}
	defer unix.Close(fd)
	for b := data; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			return fmt.Errorf("writing the upgrade state: %w", err)
		}
		b = b[n:]
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, StateEnv+"=") || strings.HasPrefix(kv, PreviousEnv+"=") || strings.HasPrefix(kv, RollbackEnv+"=")
	})
	env = append(env, StateEnv+"="+strconv.Itoa(fd))
	if prev >= 0 {
		env = append(env, PreviousEnv+"="+strconv.Itoa(prev))
	}
	if reason != "" {
		env = append(env, RollbackEnv+"="+reason)
	}
	return syscall.Exec(path, argv, env)
}
