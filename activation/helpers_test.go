package activation

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newSocket returns a Socket with the defaults the parser fills in.
func newSocket(ls ...units.Listener) *units.Socket {
	return &units.Socket{Listeners: ls, Backlog: 4096, SocketMode: 0o666, DirectoryMode: 0o755}
}

func ipListener(kind units.ListenerKind, addr string, port uint32) units.Listener {
	ip := netip.MustParseAddr(addr)
	fam := units.FamilyInet6
	if ip.Is4() {
		fam = units.FamilyInet
	}
	return units.Listener{Kind: kind, Address: units.Address{Family: fam, IP: ip, Port: port}}
}

func barePort(port uint32) units.Listener {
	return units.Listener{Kind: units.Stream, Address: units.Address{
		Family: units.FamilyInet6, IP: netip.IPv6Unspecified(), Port: port, BarePort: true}}
}

func pathListener(kind units.ListenerKind, path string) units.Listener {
	fam := units.FamilyUnix
	if kind == units.FIFO {
		fam = units.FamilyFIFO
	}
	return units.Listener{Kind: kind, Address: units.Address{Family: fam, Path: path}}
}

// bind binds s as unit "t" and closes the listeners when the test ends.
func bind(t *testing.T, s *units.Socket) []*Listener {
	t.Helper()
	ls, err := Bind("t", s)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	t.Cleanup(func() {
		for _, l := range ls {
			l.Close()
		}
	})
	return ls
}

func getInt(t *testing.T, fd, level, opt int) int {
	t.Helper()
	v, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		t.Fatalf("getsockopt(%d, %d): %v", level, opt, err)
	}
	return v
}

// wantOpts checks integer socket options: {level, opt, want}.
func wantOpts(t *testing.T, fd int, name string, checks [][3]int) {
	t.Helper()
	for _, c := range checks {
		if got := getInt(t, fd, c[0], c[1]); got != c[2] {
			t.Errorf("%s: getsockopt(level %d, opt %#x) = %d, want %d", name, c[0], c[1], got, c[2])
		}
	}
}

// boundPort returns the port fd is bound to.
func boundPort(t *testing.T, fd int) uint32 {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return uint32(sa.Port)
	case *unix.SockaddrInet6:
		return uint32(sa.Port)
	case *unix.SockaddrVM:
		return sa.Port
	}
	t.Fatalf("no port in %T", sa)
	return 0
}

// countFDs returns how many descriptors the process has open.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// checkFlags checks that fd is close-on-exec and blocking (or not).
func checkFlags(t *testing.T, fd int, nonblock bool) {
	t.Helper()
	fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || fdfl&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d: FD_CLOEXEC not set (%#x, %v)", fd, fdfl, err)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || (fl&unix.O_NONBLOCK != 0) != nonblock {
		t.Errorf("fd %d: O_NONBLOCK = %v, want %v (%v)", fd, fl&unix.O_NONBLOCK != 0, nonblock, err)
	}
}

// onLockedThread runs fn on a fresh OS thread that is thrown away after,
// so fn may change per-thread state (network namespace, capabilities).
func onLockedThread(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with us
		fn()
	}()
	<-done
}

// dropCaps removes capabilities from the calling thread's effective set.
func dropCaps(caps ...uint) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	for _, c := range caps {
		data[c/32].Effective &^= 1 << (c % 32)
	}
	return unix.Capset(&hdr, &data[0])
}

// runCmd runs a command and returns its output.
func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out), nil
}

// readSysctl reads an integer under /proc/sys.
func readSysctl(name string) (int, error) {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
