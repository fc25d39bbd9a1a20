package activation

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// bindMore makes a listener of the kinds that are not sockets bound to an
// address: netlink, special files, message queues and FunctionFS. ok is
// false for the other kinds.
func bindMore(s *units.Socket, l *Listener) (ok bool, err error) {
	spec := l.spec
	switch spec.Address.Family {
	case units.FamilyNetlink:
		l.fd, l.Warnings, err = bindNetlink(s, spec.Address)
	case units.FamilySpecial:
		l.fd, err = openSpecial(spec.Address.Path, s.Extra.Writable)
	case units.FamilyMQueue:
		l.fd, err = openMQueue(s, spec.Address.Path)
		if err == nil && s.RemoveOnStop {
			l.mqueue = spec.Address.Path
		}
	case units.FamilyUSB:
		l.fd, err = openUSBFunction(spec.Address.Path)
	default:
		return false, nil
	}
	return true, err
}

// bindNetlink makes an AF_NETLINK socket of the address's family bound to
// its multicast groups (nl_groups, as systemd binds them).
func bindNetlink(s *units.Socket, a units.Address) (int, []error, error) {
	proto, err := a.NetlinkProtocol()
	if err != nil {
		return -1, nil, err
	}
	return setupProto(s, unix.AF_NETLINK, unix.SOCK_RAW, proto, bindTo(&unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: a.Port}))
}

// openSpecial opens a character device or a file in /proc or /sys as
// systemd does for ListenSpecial=: read-only, or read-write with Writable=,
// never following a symlink; anything else is refused.
func openSpecial(path string, writable bool) (int, error) {
	flags := unix.O_RDONLY
	if writable {
		flags = unix.O_RDWR
	}
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if m := st.Mode & unix.S_IFMT; m != unix.S_IFCHR && m != unix.S_IFREG {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is not a character device or a regular file: %w", path, unix.EEXIST)
	}
	return fd, nil
}

// mqAttr is struct mq_attr (mq_getattr(3)).
type mqAttr struct {
	Flags, MaxMsg, MsgSize, CurMsgs int64
	_                               [4]int64
}

// openMQueue opens (creating it if needed) the POSIX message queue name
// ("/name") for reading, with SocketMode= and, when both are set,
// MessageQueueMaxMessages= and MessageQueueMessageSize=. As in systemd, an
// existing queue is reused only if its mode matches.
func openMQueue(s *units.Socket, name string) (int, error) {
	attr := &mqAttr{MaxMsg: s.Extra.MessageQueueMaxMessages, MsgSize: s.Extra.MessageQueueMessageSize}
	attrp := uintptr(unsafe.Pointer(attr))
	if attr.MaxMsg == 0 || attr.MsgSize == 0 {
		attrp = 0
	}
	// The system call takes the name without the leading slash.
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return -1, err
	}
	mode := socketMode(s)
	old := unix.Umask(0) // the mode is exactly SocketMode=
	r, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_CREAT), uintptr(mode), attrp, 0, 0)
	unix.Umask(old)
	if errno != 0 {
		return -1, &os.PathError{Op: "mq_open", Path: name, Err: errno}
	}
	fd := int(r)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&0o7777 != mode {
		unix.Close(fd)
		return -1, fmt.Errorf("message queue %s exists with mode %04o, not SocketMode=%04o: %w", name, st.Mode&0o7777, mode, unix.EEXIST)
	}
	return fd, nil
}

// unlinkMQueue removes a message queue (RemoveOnStop=).
func unlinkMQueue(name string) error {
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0); errno != 0 && errno != unix.ENOENT {
		return &os.PathError{Op: "mq_unlink", Path: name, Err: errno}
	}
	return nil
}

// functionFSMagic is FUNCTIONFS_MAGIC (linux/magic.h).
const functionFSMagic = 0xa647361

// openUSBFunction opens ep0 of the FunctionFS instance mounted at dir.
// sockd does not write USB descriptors (USBFunctionDescriptors= is a
// service setting it does not have): the service gets ep0 and writes
// them itself. Where the kernel has no FunctionFS, or nothing is mounted
// at dir, the error says so.
func openUSBFunction(dir string) (int, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return -1, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	if fs.Type != functionFSMagic {
		why := "no FunctionFS is mounted there"
		if !kernelHas("functionfs") {
			why = "this kernel has no FunctionFS (CONFIG_USB_FUNCTIONFS)"
		}
		return -1, fmt.Errorf("ListenUSBFunction=%s: %s: %w", dir, why, unix.ENODEV)
	}
	ep0 := dir + "/ep0"
	fd, err := unix.Open(ep0, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: ep0, Err: err}
	}
	return fd, nil
}

// kernelHas reports whether /proc/filesystems lists fstype.
func kernelHas(fstype string) bool {
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == fstype {
			return true
		}
	}
	return false
}

// socketProtocol returns the protocol argument of socket(2) for
// SocketProtocol=, or 0.
func socketProtocol(s *units.Socket) int {
	switch s.Extra.Protocol {
	case "udplite":
		return unix.IPPROTO_UDPLITE
	case "sctp":
		return unix.IPPROTO_SCTP
	case "mptcp":
		return unix.IPPROTO_MPTCP
	}
	return 0
}

// setPipeSize applies PipeSize= to a FIFO; like systemd, a refusal is a
// warning.
func setPipeSize(fd int, s *units.Socket) error {
	if s.Extra.PipeSize <= 0 {
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, int(s.Extra.PipeSize)); err != nil {
		return &warning{fmt.Errorf("PipeSize: fcntl F_SETPIPE_SZ %d: %w", s.Extra.PipeSize, err)}
	}
	return nil
}

func setPassSec(k sock, s *units.Socket) error {
	if !s.Extra.PassSecurity || !(k.local() || k.family == unix.AF_NETLINK) {
		return nil
	}
	return setopt(k.fd, unix.SOL_SOCKET, unix.SO_PASSSEC, "SO_PASSSEC", 1)
}

func setTimestamping(k sock, s *units.Socket) error {
	switch s.Extra.Timestamping {
	case "us":
		return setopt(k.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMP, "SO_TIMESTAMP", 1)
	case "ns":
		return setopt(k.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, "SO_TIMESTAMPNS", 1)
	}
	return nil
}

// appendWarning appends a tolerated failure (a *warning) to warns.
func appendWarning(warns []error, err error) []error {
	if err != nil {
		warns = append(warns, err)
	}
	return warns
}

// mqReceive takes one message from the queue fd into buf (large enough
// for any message up to 64 KiB; a larger one is EMSGSIZE).
func mqReceive(fd int, buf []byte) error {
	var prio uint32
	_, _, errno := unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(buf))),
		uintptr(len(buf)), uintptr(unsafe.Pointer(&prio)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
