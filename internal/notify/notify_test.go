package notify

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/logthrottle"
)

func TestMain(m *testing.M) {
	if os.Getenv("NOTIFY_TEST_CHILD") == "1" {
		// Wait for the parent to know our pid, then notify.
		var b [1]byte
		os.Stdin.Read(b[:])
		ok, err := daemon.SdNotify(false, "READY=1\nSTATUS=child is ready")
		if !ok || err != nil {
			fmt.Fprintln(os.Stderr, "SdNotify:", ok, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// listen starts a receiver whose messages arrive on the returned channel.
func listen(t *testing.T, path string, allow func(int) bool) (*Receiver, chan Message) {
	t.Helper()
	c := make(chan Message, 16)
	r, err := Listen(Config{Path: path, Allow: allow, Handle: func(m Message) { c <- m }, Log: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r, c
}

func next(t *testing.T, c chan Message) Message {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	panic("unreachable")
}

func socketPath(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") }

// send sends a datagram with fds attached, as sd_pid_notify_with_fds does.
func send(t *testing.T, addr, payload string, fds ...int) {
	t.Helper()
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(s, []byte(payload), oob, &unix.SockaddrUnix{Name: addr}, 0); err != nil {
		t.Fatal(err)
	}
}

func TestSdNotifyInProcess(t *testing.T) {
	for _, path := range []string{socketPath(t), fmt.Sprintf("@sockd-notify-test-%d", os.Getpid())} {
		r, c := listen(t, path, func(pid int) bool { return pid == os.Getpid() })
		t.Setenv("NOTIFY_SOCKET", r.Addr())
		if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); !ok || err != nil {
			t.Fatal(ok, err)
		}
		m := next(t, c)
		if !m.Ready || m.PID != os.Getpid() || m.UID != os.Getuid() || m.GID != os.Getgid() {
			t.Errorf("%s: got %+v", path, m)
		}
	}
}

func TestSdNotifyFromChild(t *testing.T) {
	var childPid atomic.Int64
	r, c := listen(t, socketPath(t), func(pid int) bool { return int64(pid) == childPid.Load() })
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NOTIFY_TEST_CHILD=1", "NOTIFY_SOCKET="+r.Addr())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childPid.Store(int64(cmd.Process.Pid))
	stdin.Write([]byte("x"))
	stdin.Close()
	m := next(t, c)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !m.Ready || m.Status == nil || *m.Status != "child is ready" || m.PID != cmd.Process.Pid {
		t.Errorf("got %+v", m)
	}
}

// openFDs counts the entries of /proc/self/fd.
func openFDs(t *testing.T) int {
	t.Helper()
	d, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(d)
}

func fdsToSend(t *testing.T) (memfd, sock int) {
	t.Helper()
	memfd, err := unix.MemfdCreate("state", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(memfd, []byte("serialized state"))
	sock, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(memfd); unix.Close(sock) })
	return memfd, sock
}

func ino(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestFDStore(t *testing.T) {
	r, c := listen(t, socketPath(t), nil)
	memfd, sock := fdsToSend(t)
	send(t, r.Addr(), "FDSTORE=1\nFDNAME=state", memfd, sock)
	m := next(t, c)
	if !m.FDStore || m.FDName != "state" || len(m.Files) != 2 {
		t.Fatalf("got %+v", m)
	}
	defer closeFDs(m.Files)
	if ino(t, m.Files[0]) != ino(t, memfd) || ino(t, m.Files[1]) != ino(t, sock) {
		t.Error("stored fds are not the sent ones")
	}
	for _, fd := range m.Files {
		if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d is not close-on-exec", fd)
		}
	}
}

// TestDroppedMessagesCloseFDs sends messages that must be dropped, or
// delivered without their fds, each with two fds attached, then one that
// is accepted; by then every earlier fd must be closed.
func TestDroppedMessagesCloseFDs(t *testing.T) {
	var calls atomic.Int32
	reject := func(int) bool { return calls.Add(1) != 1 } // rejects the first sender
	r, c := listen(t, socketPath(t), reject)
	memfd, sock := fdsToSend(t)
	before := openFDs(t)

	send(t, r.Addr(), "FDSTORE=1\nFDNAME=x", memfd, sock) // sender rejected
	send(t, r.Addr(), "READY=1\x00", memfd, sock)         // NUL
	send(t, r.Addr(), "garbage", memfd, sock)             // no assignment
	send(t, r.Addr(), "", memfd, sock)                    // empty
	send(t, r.Addr(), "READY=1\n"+strings.Repeat("X", MaxMessage), memfd, sock)
	send(t, r.Addr(), "STATUS=fds but no FDSTORE", memfd, sock)
	m := next(t, c)
	if m.Status == nil || m.Files != nil {
		t.Errorf("got %+v", m)
	}
	send(t, r.Addr(), "STOPPING=1")
	if m := next(t, c); !m.Stopping {
		t.Errorf("got %+v", m)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d fds open before, %d after", before, after)
	}
	select {
	case m := <-c:
		t.Errorf("unexpected message %+v", m)
	default:
	}
}

func TestNoCredentials(t *testing.T) {
	// A receiver without SO_PASSCRED cannot happen through Listen; check
	// the rule directly.
	var got []Message
	r := &Receiver{cfg: Config{Path: "x", Handle: func(m Message) { got = append(got, m) }, Log: discardLogger(),
		Throttle: logthrottle.New(discardLogger(), 0)}}
	r.receive([]byte("READY=1"), nil, 0)
	if len(got) != 0 {
		t.Errorf("message without credentials delivered: %+v", got)
	}
}

func TestCloseRemovesSocket(t *testing.T) {
	path := socketPath(t)
	// A stale socket file is replaced.
	stale, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Bind(stale, &syscall.SockaddrUnix{Name: path})
	syscall.Close(stale)
	r, err := Listen(Config{Path: path, Handle: func(Message) {}})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket file: %v %v", fi, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
