package handoff

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Listeners asks the server at socketPath (sockd's RUNTIME_DIR/handoff.sock)
// for the listening fds of unit and returns them in the unit's order,
// each checked to be of its kind (CheckKinds). The server must run as
// root or as this process's user. The caller owns the fds
// (close-on-exec); CloseAll closes them. ctx bounds the whole exchange.
func Listeners(ctx context.Context, socketPath, unit string) ([]File, error) {
	files, err := fetch(ctx, socketPath, Request{Op: OpListeners, Unit: unit})
	if err == nil {
		if err = CheckKinds(files); err != nil {
			CloseAll(files)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("handoff: listeners of %s from %s: %w", unit, socketPath, err)
	}
	return files, nil
}

// fetch sends req to the server at socketPath and receives its answer.
func fetch(ctx context.Context, socketPath string, req Request) ([]File, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unixpacket", socketPath)
	if err != nil {
		return nil, err
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	// A deadline in the past, once ctx is done, ends a blocked read or
	// write; ctx.Err is set by then, so the error says why.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	files, err := Exchange(conn, req)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return files, err
}

// Exchange checks the credentials of the server at the other end of
// conn (root or this process's user), sends req and receives the answer
// (Receive: the kinds of the fds are not checked). conn stays open: a
// takeover goes on on it.
func Exchange(conn *net.UnixConn, req Request) ([]File, error) {
	cred, err := PeerCred(conn)
	if err != nil {
		return nil, err
	}
	if !SameUserOrRoot(cred) {
		return nil, fmt.Errorf("the server runs as uid %d (pid %d), neither root nor uid %d: not trusted", cred.Uid, cred.Pid, os.Getuid())
	}
	if err := SendRequest(conn, req); err != nil {
		// A server that refused us may have answered and hung up
		// before reading: its answer says more than EPIPE.
		if _, rerr := Receive(conn); rerr != nil && errors.As(rerr, new(*RemoteError)) {
			return nil, rerr
		}
		return nil, err
	}
	return Receive(conn)
}

// Listener returns a net.Listener for f, a stream or sequential-packet
// socket, and closes f.Fd (the listener holds a dup), on error too; f.Fd
// is -1 afterwards. The socket becomes non-blocking for every holder of
// it: see "Blocking mode" in the package doc.
func (f *File) Listener() (net.Listener, error) {
	file, err := f.osFile()
	if err != nil {
		return nil, err
	}
	defer file.Close()
	l, err := net.FileListener(file)
	if err != nil {
		return nil, fmt.Errorf("handoff: %s %s (%s): %w", f.Unit, f.Name, f.Addr, err)
	}
	return l, nil
}

// PacketConn returns a net.PacketConn for f, a datagram socket, and closes
// f.Fd as Listener does; the same caveat about blocking mode applies.
func (f *File) PacketConn() (net.PacketConn, error) {
	file, err := f.osFile()
	if err != nil {
		return nil, err
	}
	defer file.Close()
	c, err := net.FilePacketConn(file)
	if err != nil {
		return nil, fmt.Errorf("handoff: %s %s (%s): %w", f.Unit, f.Name, f.Addr, err)
	}
	return c, nil
}

// osFile moves f.Fd into an *os.File. os.NewFile leaves the blocking
// mode alone, and nothing here calls its Fd method, which would make a
// non-blocking socket blocking (golang/go#29277).
func (f *File) osFile() (*os.File, error) {
	if f.Fd < 0 {
		return nil, fmt.Errorf("handoff: %s %s (%s): no fd", f.Unit, f.Name, f.Addr)
	}
	fd := f.Fd
	f.Fd = -1
	return os.NewFile(uintptr(fd), f.Unit+":"+f.Name), nil
}
