// Package notify receives the sd_notify(3) messages of a service: READY=1,
// STATUS=, STOPPING=1, MAINPID=, FDSTORE=1 and the rest.
//
// Each service gets its own Receiver: a private AF_UNIX datagram socket,
// whose address goes into the service's NOTIFY_SOCKET, so that a message
// is attributed by the socket it arrives on. The receiver follows the
// checks of systemd's manager (src/shared/notify-recv.c): SO_PASSCRED is
// on, so that the kernel attaches the sender's credentials; messages are
// read with MSG_CMSG_CLOEXEC|MSG_DONTWAIT into a 4096-byte buffer with
// room for 768 fds; a message is dropped if it was truncated, is empty,
// holds a NUL byte, carries no credentials, or comes from a pid the
// caller does not accept. Attached fds are closed unless the message has
// FDSTORE=1, in which case the handler gets them (systemd.service(5)
// FileDescriptorStoreMax=).
package notify

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/logthrottle"
)

const (
	// MaxMessage is the largest payload accepted (NOTIFY_BUFFER_MAX).
	MaxMessage = 4096
	// MaxFDs is the most fds one message may carry (NOTIFY_FD_MAX).
	MaxFDs = 768
)

// Config configures a Receiver.
type Config struct {
	// Path is the socket's file system path, or "@name" for an abstract
	// socket. A stale socket at Path is removed first. The socket file
	// is made writable by everybody (mode 0666), so that a service that
	// dropped privileges can send; protect it with its directory.
	Path string
	// Prefix, used when Path is empty, makes Listen bind Prefix followed
	// by at least 128 random bits (crypto/rand.Text), drawing a new name if one is taken
	// (EADDRINUSE): a name no other user can guess, and so cannot bind
	// first to keep the service from starting. Use it for abstract
	// names, which anyone in the network namespace may bind.
	Prefix string
	// Allow reports whether a message from pid is accepted, e.g. whether
	// pid is the service's main process (NotifyAccess=main). Nil accepts
	// every sender.
	Allow func(pid int) bool
	// Handle is called on the receiver's goroutine for each accepted
	// message, in order. It must not block for long and must not call
	// Close. It owns the message's Files.
	Handle func(Message)
	// Log receives dropped-message warnings; nil means slog.Default().
	Log *slog.Logger
	// Throttle, if set, rate-limits the dropped-message warnings, one
	// line per reason and sender uid per interval (it may be shared by
	// every receiver); nil means a throttle of the receiver's own over
	// Log with logthrottle.DefaultInterval.
	Throttle *logthrottle.Throttle
	// FD, if positive, is a socket already bound at Path with SO_PASSCRED
	// on (one a previous image of sockd created and passed on across a
	// re-execution): Listen adopts it, marks it close-on-exec and binds
	// nothing.
	FD int
}

// Receiver reads notifications from one socket on its own goroutine.
type Receiver struct {
	cfg  Config
	f    *os.File
	rc   syscall.RawConn
	done chan struct{}
	once sync.Once
	err  error
}

// Listen creates the socket and starts reading from it.
func Listen(cfg Config) (*Receiver, error) {
	if cfg.Handle == nil {
		return nil, errors.New("notify: Config.Handle is nil")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Throttle == nil {
		cfg.Throttle = logthrottle.New(cfg.Log, 0)
	}
	fd, err := cfg.FD, error(nil)
	switch {
	case fd > 0:
		unix.CloseOnExec(fd)
		err = unix.SetNonblock(fd, true)
	case cfg.Path == "" && cfg.Prefix != "":
		fd, cfg.Path, err = bindRandom(cfg.Prefix)
	default:
		fd, err = bindSocket(cfg.Path)
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), cfg.Path) // non-blocking: uses the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &Receiver{cfg: cfg, f: f, rc: rc, done: make(chan struct{})}
	go r.loop()
	return r, nil
}

// randomTries is how many random names bindRandom draws before it gives
// up: with 128 random bits, a second draw is only needed if someone
// binds names at random too.
const randomTries = 16

// randomName draws the random part of a name (a variable for the test
// that makes the first draws collide).
var randomName = rand.Text

// bindRandom binds prefix followed by a random name, drawing again while
// the name is taken.
func bindRandom(prefix string) (fd int, path string, err error) {
	for range randomTries {
		path = prefix + randomName()
		fd, err = bindSocket(path)
		if !errors.Is(err, unix.EADDRINUSE) {
			return fd, path, err
		}
	}
	return -1, "", fmt.Errorf("notify: %d random names under %s were all taken: %w", randomTries, prefix, err)
}

func bindSocket(path string) (int, error) {
	if path == "" || path == "@" {
		return -1, errors.New("notify: empty socket path")
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	abstract := strings.HasPrefix(path, "@")
	if !abstract {
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == os.ModeSocket {
			os.Remove(path)
		}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return -1, &os.PathError{Op: "bind", Path: path, Err: err}
	}
	if !abstract {
		if err := os.Chmod(path, 0o666); err != nil {
			syscall.Close(fd)
			os.Remove(path)
			return -1, err
		}
	}
	return fd, nil
}

// Export returns an inheritable (not close-on-exec) duplicate of the
// receiver's socket, for a new image of sockd to adopt (Config.FD) across
// a re-execution, so that the service keeps its NOTIFY_SOCKET. The
// caller owns the fd.
func (r *Receiver) Export() (int, error) {
	var dup int
	var derr error
	if err := r.rc.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD, 3) }); err != nil {
		return -1, fmt.Errorf("notify: %s: %w", r.cfg.Path, err)
	}
	if derr != nil {
		return -1, fmt.Errorf("notify: %s: %w", r.cfg.Path, os.NewSyscallError("fcntl F_DUPFD", derr))
	}
	return dup, nil
}

// Addr returns the socket's address in the form NOTIFY_SOCKET takes.
func (r *Receiver) Addr() string { return r.cfg.Path }

// Close stops the goroutine, waits for it (and so for any running
// Handle call) and removes the socket file.
func (r *Receiver) Close() error {
	r.once.Do(func() {
		r.err = r.f.Close()
		<-r.done
		if !strings.HasPrefix(r.cfg.Path, "@") {
			if err := os.Remove(r.cfg.Path); err != nil && r.err == nil {
				r.err = err
			}
		}
	})
	return r.err
}

func (r *Receiver) loop() {
	defer close(r.done)
	buf := make([]byte, MaxMessage)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*MaxFDs))
	for {
		var n, oobn, flags int
		var rerr error
		err := r.rc.Read(func(fd uintptr) bool {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return // closed
		}
		if rerr != nil {
			if rerr != unix.EINTR {
				r.cfg.Log.Warn("notify: recvmsg failed", "socket", r.cfg.Path, "err", rerr)
			}
			continue
		}
		r.receive(buf[:n], oob[:oobn], flags)
	}
}

// receive checks and delivers one datagram. Every fd it carries is
// closed on every path except delivery with FDSTORE=1.
func (r *Receiver) receive(data, oob []byte, flags int) {
	fds, cred, cerr := parseControl(oob)
	keep := false
	defer func() {
		if !keep {
			closeFDs(fds)
		}
	}()
	drop := func(reason string, args ...any) {
		uid := "unknown"
		if cred != nil {
			uid = strconv.Itoa(int(cred.Uid))
			args = append(args, "uid", cred.Uid)
		}
		r.cfg.Throttle.Warn("notify "+reason+" uid "+uid, "notify: dropping message: "+reason,
			append([]any{"socket", r.cfg.Path, "fds", len(fds)}, args...)...)
	}
	switch {
	case flags&unix.MSG_TRUNC != 0:
		drop("too long")
	case flags&unix.MSG_CTRUNC != 0:
		drop("control data truncated")
	case cerr != nil:
		drop("bad control data", "err", cerr)
	case cred == nil || cred.Pid <= 0:
		drop("no sender credentials")
	case r.cfg.Allow != nil && !r.cfg.Allow(int(cred.Pid)):
		drop("sender not allowed", "pid", cred.Pid)
	default:
		m, err := Parse(data)
		if err != nil {
			drop("unparsable", "pid", cred.Pid, "err", err)
			return
		}
		m.PID, m.UID, m.GID = int(cred.Pid), int(cred.Uid), int(cred.Gid)
		if m.FDStore && len(fds) > 0 {
			m.Files, keep = fds, true
		}
		r.cfg.Handle(m)
	}
}

// parseControl returns the fds and credentials of a control buffer. It
// walks the messages one by one, so that the fds of the messages before
// a malformed one are still returned (and closed by the caller).
func parseControl(oob []byte) ([]int, *unix.Ucred, error) {
	var fds []int
	var cred *unix.Ucred
	for len(oob) > 0 {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return fds, nil, fmt.Errorf("control message: %w", err)
		}
		oob = rest
		if hdr.Level != unix.SOL_SOCKET {
			continue
		}
		m := &unix.SocketControlMessage{Header: hdr, Data: data}
		switch hdr.Type {
		case unix.SCM_RIGHTS:
			if len(data)%4 != 0 {
				// x/sys's ParseUnixRights would index past its result
				// (found by FuzzParseControl); the kernel never sends this.
				return fds, nil, fmt.Errorf("SCM_RIGHTS: %d bytes, not a whole number of fds", len(data))
			}
			rights, err := unix.ParseUnixRights(m)
			fds = append(fds, rights...)
			if err != nil {
				return fds, nil, fmt.Errorf("SCM_RIGHTS: %w", err)
			}
		case unix.SCM_CREDENTIALS:
			if cred, err = unix.ParseUnixCredentials(m); err != nil {
				return fds, nil, fmt.Errorf("SCM_CREDENTIALS: %w", err)
			}
		}
	}
	return fds, cred, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
