package handoff

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// seqpair returns the two ends of a SOCK_SEQPACKET socketpair, closed when
// the test ends.
func seqpair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	return pair(t, unix.SOCK_SEQPACKET)
}

func pair(t *testing.T, typ int) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { conns[i].Close() })
	}
	return conns[0], conns[1]
}

// sources makes n files of every kind in turn (stream, datagram and
// sequential-packet sockets, FIFOs), with metadata, closed when the test
// ends.
func sources(t *testing.T, n int, fingerprint string) []File {
	t.Helper()
	kinds := []struct {
		kind string
		typ  int
	}{{KindStream, unix.SOCK_STREAM}, {KindDatagram, unix.SOCK_DGRAM}, {KindSequentialPacket, unix.SOCK_SEQPACKET}, {KindFIFO, 0}}
	files := make([]File, n)
	for i := range files {
		k := kinds[i%len(kinds)]
		var fd int
		var err error
		if k.typ == 0 {
			var p [2]int
			err = unix.Pipe2(p[:], unix.O_CLOEXEC)
			fd = p[0]
			unix.Close(p[1])
		} else {
			fd, err = unix.Socket(unix.AF_UNIX, k.typ|unix.SOCK_CLOEXEC, 0)
		}
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		files[i] = File{
			Unit: fmt.Sprintf("unit%d", i/10), Name: fmt.Sprintf("name-%d", i), Kind: k.kind,
			Addr: fmt.Sprintf("/run/test/%d.sock", i), Fingerprint: fmt.Sprintf("%s %d", fingerprint, i), Fd: fd,
		}
	}
	return files
}

// openFDs returns this process's open fds and what they are. It starts
// Go's network poller first: the runtime opens its epoll and eventfd fds
// on first use of the poller or of a timer, for good, and a count taken
// before that would see them as leaked. (go test passes -test.timeout,
// whose timer starts the poller before any test; a test binary run
// directly starts it only when a test first needs it.)
func openFDs(t testing.TB) map[int]string {
	t.Helper()
	startPoller(t)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		// The directory's own fd is closed by now: readlink fails.
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			out[fd] = target
		}
	}
	return out
}

// startPoller makes sure Go's network poller has its fds open, by
// opening a pipe, which registers with it.
func startPoller(t testing.TB) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Close()
}

// checkNoNewFDs fails the test if an fd is open that was not in before.
func checkNoNewFDs(t testing.TB, before map[int]string) {
	t.Helper()
	var leaked []string
	for fd, target := range openFDs(t) {
		if _, ok := before[fd]; !ok {
			leaked = append(leaked, fmt.Sprintf("%d -> %s", fd, target))
		}
	}
	sort.Strings(leaked)
	if len(leaked) > 0 {
		t.Errorf("%d fds leaked: %s", len(leaked), strings.Join(leaked, ", "))
	}
}

// sameFile fails the test unless fds a and b refer to the same inode.
func sameFile(t *testing.T, what string, a, b int) {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		t.Fatalf("%s: fstat %d: %v", what, a, err)
	}
	if err := unix.Fstat(b, &sb); err != nil {
		t.Fatalf("%s: fstat %d: %v", what, b, err)
	}
	if sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		t.Errorf("%s: fd %d is inode %d:%d; want %d:%d, the sent one's", what, b, sb.Dev, sb.Ino, sa.Dev, sa.Ino)
	}
}

// isCloexec reports whether fd has FD_CLOEXEC.
func isCloexec(t *testing.T, fd int) bool {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatalf("fcntl F_GETFD %d: %v", fd, err)
	}
	return flags&unix.FD_CLOEXEC != 0
}

// async runs f in a goroutine and returns a channel with its error.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}
