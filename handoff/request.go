package handoff

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The operations of a Request.
const (
	// OpListeners asks for the listening fds of Request.Unit, in the
	// order the unit declares them.
	OpListeners = "listeners"
	// OpTakeover asks a sockd for everything a new generation of sockd
	// needs to take its place: the listeners of every unit, each in its
	// unit's order, then each unit's fd store entries (Kind
	// KindStored, Name the FDNAME=). The client, once it has checked
	// them, answers with a Request of OpCommit — the server then stops
	// using them, replies with an empty set of files, and leaves — or of
	// OpAbort with a Reason, and the server goes on as before.
	OpTakeover = "takeover"
	// OpCommit and OpAbort end a takeover (see OpTakeover).
	OpCommit = "commit"
	OpAbort  = "abort"
)

// Request is what a client asks a Server for.
type Request struct {
	Op     string // OpListeners, OpTakeover, OpCommit, OpAbort
	Unit   string // the unit's name, "web" (or "web.socket"), for OpListeners
	Reason string // why, for OpAbort
}

// RemoteError is the error a peer answered instead of files.
type RemoteError struct {
	Message string
}

// Error returns the peer's message, marked as coming from the peer.
func (e *RemoteError) Error() string { return "handoff: peer answered: " + e.Message }

// SendRequest sends req over conn, a SOCK_SEQPACKET socket.
func SendRequest(conn *net.UnixConn, req Request) error {
	return sendHeader(conn, &header{Type: typeRequest, Op: req.Op, Unit: req.Unit, Reason: req.Reason})
}

// SendError answers a request with an error message instead of files; the
// peer's Receive returns it as a *RemoteError.
func SendError(conn *net.UnixConn, msg string) error {
	if len(msg) > maxError {
		msg = msg[:maxError]
	}
	if msg == "" {
		msg = "error"
	}
	return sendHeader(conn, &header{Type: typeError, Error: msg})
}

func sendHeader(conn *net.UnixConn, h *header) error {
	rc, err := rawSeqpacket(conn)
	if err != nil {
		return err
	}
	b, err := encodePacket(h)
	if err != nil {
		return err
	}
	return sendPacket(rc, b, nil)
}

// ReceiveRequest reads one request of at most MaxRequestSize bytes. A
// request carrying fds is refused (and the fds closed).
func ReceiveRequest(conn *net.UnixConn) (Request, error) {
	req, _, err := receiveRequest(conn)
	return req, err
}

// receiveRequest is ReceiveRequest, and returns the minor version of the
// request's packet too, which says what the peer reads.
func receiveRequest(conn *net.UnixConn) (Request, byte, error) {
	rc, err := rawSeqpacket(conn)
	if err != nil {
		return Request{}, 0, err
	}
	buf, oob := make([]byte, MaxRequestSize), make([]byte, oobSize)
	n, fds, err := recvPacket(rc, buf, oob)
	if err != nil {
		return Request{}, 0, err
	}
	if len(fds) > 0 {
		closeFDs(fds)
		return Request{}, 0, fmt.Errorf("handoff: request carries %d fds", len(fds))
	}
	h, err := decodePacket(buf[:n])
	if err != nil {
		return Request{}, 0, err
	}
	if h.Type != typeRequest {
		return Request{}, 0, fmt.Errorf("handoff: got a %s packet, want a request", h.Type)
	}
	return Request{Op: h.Op, Unit: h.Unit, Reason: h.Reason}, buf[len(magic)+1], nil // the minor version
}

// PeerCred returns the credentials of the process at the other end of
// conn, as the kernel recorded them when it connected (SO_PEERCRED).
func PeerCred(conn *net.UnixConn) (unix.Ucred, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return unix.Ucred{}, fmt.Errorf("handoff: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return unix.Ucred{}, fmt.Errorf("handoff: %w", err)
	}
	if serr != nil {
		return unix.Ucred{}, fmt.Errorf("handoff: %w", os.NewSyscallError("getsockopt SO_PEERCRED", serr))
	}
	return *cred, nil
}

// SameUserOrRoot reports whether c is root or this process's user: the
// peers trusted by default.
func SameUserOrRoot(c unix.Ucred) bool { return c.Uid == 0 || int(c.Uid) == os.Getuid() }
