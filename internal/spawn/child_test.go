package spawn

// The test binary doubles as the service the tests spawn: TestMain runs
// childMain when SPAWN_TEST_CHILD is set, and the child reports what it
// sees from its side.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	RunShimIfRequested()
	if mode := os.Getenv("SPAWN_TEST_CHILD"); mode != "" {
		os.Exit(childMain(mode))
	}
	goleak.VerifyTestMain(m)
}

// report is what a child in "report" mode writes to its stdout as JSON.
type report struct {
	Pid, Pgid, Sid int
	Args           []string
	Env            []string
	FDs            map[int]string // fd → readlink of /proc/self/fd/N
	SockType       map[int]int    // fd ≥ 3 → SO_TYPE
	Ino            map[int]uint64 // fd ≥ 3 → st_ino
	Nonblock       map[int]bool   // fd ≥ 3 → O_NONBLOCK set
	// Inherited lists the fds that are not close-on-exec at start-up: the
	// ones the process got across execve (the Go runtime's own fds, such as
	// cgroup files it keeps open, are opened close-on-exec).
	Inherited []int
	Status    map[string]string
	Uid, Gid  int
	Groups    []int
	Cwd       string
	PidfdID   uint64
	Attrs     attrReport // attrs_test.go
}

func (r *report) env(key string) (string, bool) { return lookupEnv(r.Env, key) }

func childMain(mode string) int {
	switch mode {
	case "report":
		return childReport()
	case "print":
		fmt.Println("line one")
		fmt.Fprintln(os.Stderr, "oops")
		fmt.Println(strings.Repeat("x", MaxLogLine+100))
		fmt.Print("line two") // no newline at the end
		return 0
	case "echo":
		b, _ := io.ReadAll(os.Stdin)
		os.Stdout.WriteString(strings.ToUpper(string(b)))
		return 0
	case "hello":
		fmt.Println("hello")
		return 0
	}
	return 99
}

func childReport() int {
	r := report{FDs: listFDs()} // first, before Go opens anything
	for fd := range r.FDs {
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 {
			r.Inherited = append(r.Inherited, fd)
		}
	}
	slices.Sort(r.Inherited)
	r.Pid = os.Getpid()
	r.Pgid, _ = syscall.Getpgid(0)
	r.Sid, _ = unix.Getsid(0)
	r.Args = os.Args
	r.Env = os.Environ()
	r.SockType, r.Ino, r.Nonblock = map[int]int{}, map[int]uint64{}, map[int]bool{}
	for fd := range r.FDs {
		if fd < 3 {
			continue
		}
		if t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil {
			r.SockType[fd] = t
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			r.Ino[fd] = st.Ino
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
			r.Nonblock[fd] = fl&unix.O_NONBLOCK != 0
		}
	}
	r.Status = procStatus()
	r.Uid, r.Gid = os.Getuid(), os.Getgid()
	r.Groups, _ = os.Getgroups()
	r.Cwd, _ = os.Getwd()
	r.PidfdID, _ = pidfdID()
	r.Attrs = readAttrs()
	if err := json.NewEncoder(os.Stdout).Encode(&r); err != nil {
		return 98
	}
	return 0
}

// listFDs lists /proc/self/fd with raw system calls, leaving out the
// directory's own fd.
func listFDs() map[int]string {
	dirfd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(dirfd)
	buf := make([]byte, 8192)
	var names []string
	for {
		n, err := syscall.ReadDirent(dirfd, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	fds := map[int]string{}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == dirfd {
			continue
		}
		link, _ := os.Readlink("/proc/self/fd/" + name)
		fds[fd] = link
	}
	return fds
}

// procStatus returns the fields of /proc/self/status.
func procStatus() map[string]string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}
