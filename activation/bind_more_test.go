package activation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

func moreListener(kind units.ListenerKind, value string) units.Listener {
	a, err := units.ParseAddress(kind, value)
	if err != nil {
		panic(err)
	}
	return units.Listener{Kind: kind, Address: a}
}

// A ListenNetlink=route 1 listener (RTMGRP_LINK) receives the kernel's
// RTM_NEWLINK when a link appears in the test's own network namespace.
func TestNetlinkReceivesKernelMessage(t *testing.T) {
	inNetns(t, func() {
		s := newSocket(moreListener(units.Netlink, "route 1"))
		s.FileDescriptorName = "rtnl"
		ls, err := Bind("t", s)
		if err != nil {
			t.Errorf("Bind: %v", err)
			return
		}
		defer ls[0].Close()
		if proto := getInt(t, ls[0].Fd(), unix.SOL_SOCKET, unix.SO_PROTOCOL); proto != unix.NETLINK_ROUTE || ls[0].Name != "rtnl" {
			t.Errorf("SO_PROTOCOL = %d, name %q; want %d, rtnl", proto, ls[0].Name, unix.NETLINK_ROUTE)
		}
		if _, err := runCmd("ip", "link", "add", "sockdnl0", "type", "veth", "peer", "name", "sockdnl1"); err != nil {
			t.Errorf("ip link add: %v", err)
			return
		}
		// The namespace's own links (sockd0/sockd1, set up by inNetns)
		// may still send events: read until the pair added here shows.
		tv := unix.Timeval{Sec: 5}
		if err := unix.SetsockoptTimeval(ls[0].Fd(), unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			t.Error(err)
			return
		}
		buf := make([]byte, 1<<16)
		for {
			n, _, err := unix.Recvfrom(ls[0].Fd(), buf, 0)
			if err != nil {
				t.Errorf("recvfrom: %v; want an RTM_NEWLINK naming sockdnl0 or sockdnl1", err)
				return
			}
			msgs, err := syscall.ParseNetlinkMessage(buf[:n])
			if err != nil {
				t.Errorf("parsing %d bytes: %v", n, err)
				return
			}
			for _, m := range msgs {
				if m.Header.Type == unix.RTM_NEWLINK && strings.Contains(string(m.Data), "sockdnl") {
					return
				}
			}
		}
	})
}

func TestSpecial(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path     string
		writable bool
		accmode  int
	}{
		{"/dev/null", false, unix.O_RDONLY},
		{"/dev/null", true, unix.O_RDWR},
		{file, false, unix.O_RDONLY},
	} {
		s := newSocket(moreListener(units.Special, c.path))
		s.Extra.Writable = c.writable
		ls := bind(t, s)
		fl, err := unix.FcntlInt(uintptr(ls[0].Fd()), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_ACCMODE != c.accmode {
			t.Errorf("%s (Writable=%v): flags %#x, %v; want access mode %#x", c.path, c.writable, fl, err, c.accmode)
		}
		checkFlags(t, ls[0].Fd(), true)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("/dev/null", link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		dir:  "unit t: listen " + dir + ": " + dir + " is not a character device or a regular file: file exists",
		link: "unit t: listen " + link + ": open " + link + ": too many levels of symbolic links",
	} {
		if _, err := Bind("t", newSocket(moreListener(units.Special, path))); err == nil || err.Error() != want {
			t.Errorf("Bind(ListenSpecial=%s) = %v; want %s", path, err, want)
		}
	}
}

func mqGetattr(t *testing.T, fd int) mqAttr {
	t.Helper()
	var a mqAttr
	if _, _, errno := unix.Syscall(unix.SYS_MQ_GETSETATTR, uintptr(fd), 0, uintptr(unsafe.Pointer(&a))); errno != 0 {
		t.Fatalf("mq_getattr: %v", errno)
	}
	return a
}

func TestMessageQueue(t *testing.T) {
	testenv.RequireRoot(t, "creates a POSIX message queue whose size exceeds a user's default limits")
	name := fmt.Sprintf("/sockd-test-%d", os.Getpid())
	s := newSocket(moreListener(units.MessageQueue, name))
	s.SocketMode, s.RemoveOnStop = 0o600, true
	s.Extra.MessageQueueMaxMessages, s.Extra.MessageQueueMessageSize = 3, 128
	ls, err := Bind("t", s)
	if err != nil {
		t.Fatal(err)
	}
	if a := mqGetattr(t, ls[0].Fd()); a.MaxMsg != 3 || a.MsgSize != 128 {
		t.Errorf("mq_attr = %+v; want maxmsg 3, msgsize 128", a)
	}
	var st unix.Stat_t
	if err := unix.Stat("/dev/mqueue"+name, &st); err == nil && st.Mode&0o777 != 0o600 {
		t.Errorf("mode %o; want 600", st.Mode&0o777)
	}
	// A second open with another SocketMode= is refused, as in systemd.
	s2 := *s
	s2.SocketMode = 0o644
	if _, err := Bind("u", &s2); !errors.Is(err, unix.EEXIST) {
		t.Errorf("reopening with another mode: %v; want EEXIST", err)
	}
	ls[0].Close()
	if err := ls[0].Remove(); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if _, err := os.Stat("/dev/mqueue" + name); err == nil {
		t.Errorf("RemoveOnStop=yes left %s", name)
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Logf("no /dev/mqueue to check: %v", err)
	}
}

func TestUSBFunctionWithoutFunctionFS(t *testing.T) {
	dir := t.TempDir()
	_, err := Bind("t", newSocket(moreListener(units.USBFunction, dir)))
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "ListenUSBFunction="+dir+": ") {
		t.Errorf("Bind(ListenUSBFunction=%s) = %v; want ENODEV naming the directive", dir, err)
	}
}

func TestPassSecurityTimestampingProtocol(t *testing.T) {
	dir := t.TempDir()
	s := newSocket(pathListener(units.Datagram, filepath.Join(dir, "s")), ipListener(units.Datagram, "127.0.0.1", 0))
	s.Extra.PassSecurity, s.Extra.Timestamping = true, "ns"
	ls := bind(t, s)
	wantOpts(t, ls[0].Fd(), "unix", [][3]int{{unix.SOL_SOCKET, unix.SO_PASSSEC, 1}, {unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1}})
	wantOpts(t, ls[1].Fd(), "udp", [][3]int{{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1}})

	s = newSocket(ipListener(units.Datagram, "127.0.0.1", 0))
	s.Extra.Protocol, s.Extra.Timestamping = "udplite", "us"
	ls = bind(t, s)
	wantOpts(t, ls[0].Fd(), "udplite", [][3]int{{unix.SOL_SOCKET, unix.SO_PROTOCOL, unix.IPPROTO_UDPLITE}, {unix.SOL_SOCKET, unix.SO_TIMESTAMP, 1}})

	s = newSocket(ipListener(units.Stream, "127.0.0.1", 0))
	s.Extra.Protocol = "sctp"
	ls, err := Bind("t", s)
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ESOCKTNOSUPPORT) {
		t.Logf("no SCTP in this kernel: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ls[0].Close()
	wantOpts(t, ls[0].Fd(), "sctp", [][3]int{{unix.SOL_SOCKET, unix.SO_PROTOCOL, unix.IPPROTO_SCTP}})
}

func TestPipeSize(t *testing.T) {
	s := newSocket(pathListener(units.FIFO, filepath.Join(t.TempDir(), "fifo")))
	s.Extra.PipeSize = 1 << 17
	ls := bind(t, s)
	if got, err := unix.FcntlInt(uintptr(ls[0].Fd()), unix.F_GETPIPE_SZ, 0); err != nil || got != 1<<17 {
		t.Errorf("F_GETPIPE_SZ = %d, %v; want %d", got, err, 1<<17)
	}
}
