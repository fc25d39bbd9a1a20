package handoff

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// boundInet makes a blocking socket of type typ bound to 127.0.0.1:0 (and
// listening, for a stream socket), as sockd binds listeners; it returns
// the fd and the port.
func boundInet(t *testing.T, typ int) (int, int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 16); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port
}

// received sends f over a socketpair and returns what arrived.
func received(t *testing.T, f File) File {
	t.Helper()
	a, b := seqpair(t)
	done := async(func() error { return Send(a, []File{f}) })
	got, err := Receive(b)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func nonblocking(t *testing.T, fd int) bool {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.O_NONBLOCK != 0
}

// TestFileListener accepts a connection on a received TCP listener, and
// checks the documented side effect: the sender's socket became
// non-blocking too.
func TestFileListener(t *testing.T) {
	fd, port := boundInet(t, unix.SOCK_STREAM)
	f := received(t, File{Unit: "web", Name: "http", Kind: KindStream, Addr: "127.0.0.1:0", Fd: fd})
	l, err := f.Listener()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if f.Fd != -1 {
		t.Errorf("after Listener, Fd is %d; want -1", f.Fd)
	}
	if !nonblocking(t, fd) {
		t.Error("the shared socket is still blocking after Listener; the package doc says otherwise")
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Write([]byte("hi"))
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hi" {
		t.Errorf("read %q, %v; want hi", buf, err)
	}
	if _, err := f.Listener(); err == nil {
		t.Error("a second Listener on the same File succeeded; want an error (no fd)")
	}
}

// TestFilePacketConn reads a datagram from a received UDP socket.
func TestFilePacketConn(t *testing.T) {
	fd, port := boundInet(t, unix.SOCK_DGRAM)
	f := received(t, File{Unit: "dns", Name: "dns", Kind: KindDatagram, Addr: "127.0.0.1:0", Fd: fd})
	pc, err := f.PacketConn()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Errorf("read %q, %v; want ping", buf[:n], err)
	}
}
