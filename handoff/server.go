package handoff

import (
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// Server answers one request per connection on the connections its caller
// accepts (from a "unixpacket" listener).
type Server struct {
	// PeerAllowed decides which peers may ask; nil means SameUserOrRoot.
	PeerAllowed func(unix.Ucred) bool
	// Answer returns the files that answer req from peer, or an error
	// whose text is sent back. ServeConn closes the fds of each chunk
	// once it is sent, and all that are left if sending fails: return
	// dups, each fd once.
	Answer func(peer unix.Ucred, req Request) ([]File, error)
	// Lend, if set, answers instead of Answer the requests it reports
	// it handles: it calls send with files that it lends — its own fds,
	// not dups, which would double the fds a large set needs — and
	// keeps them open (under a lock it holds) until send returns. send
	// closes none of them. An error before send is sent back to the
	// peer; an error of send is returned as it is.
	Lend func(peer unix.Ucred, req Request, send func([]File) error) (handled bool, err error)
	// Then, if set, is called once the answer to req is sent, to go on
	// with the conversation on conn (OpTakeover's commit or abort).
	Then func(conn *net.UnixConn, peer unix.Ucred, req Request) error
}

// RefusedError is ServeConn's error for a peer that PeerAllowed refused;
// the peer is answered "permission denied".
type RefusedError struct {
	Peer unix.Ucred
}

// Error names the refused peer by uid, gid and pid.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("handoff: refused peer uid %d gid %d pid %d", e.Peer.Uid, e.Peer.Gid, e.Peer.Pid)
}

// ServeConn checks conn's peer, reads one request (at most
// MaxRequestSize bytes), and sends the answer: files, or an error. It
// neither closes conn nor sets its deadlines: the caller does both. It
// returns nil once the files are sent, a *RefusedError for a refused
// peer, and otherwise an error saying what failed (the peer's request,
// the answer, or the connection).
func (s *Server) ServeConn(conn *net.UnixConn) error {
	cred, err := PeerCred(conn)
	if err != nil {
		return err
	}
	allowed := s.PeerAllowed
	if allowed == nil {
		allowed = SameUserOrRoot
	}
	// Read the request even from a peer about to be refused: a socket
	// closed with a packet unread resets the connection, and the peer
	// would see ECONNRESET instead of the answer.
	req, minor, err := receiveRequest(conn)
	if !allowed(cred) {
		SendError(conn, "permission denied")
		return &RefusedError{Peer: cred}
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			SendError(conn, err.Error())
		}
		return err
	}
	compact := minor >= minorCompact
	if s.Lend != nil {
		var sendErr error
		handled, err := s.Lend(cred, req, func(files []File) error {
			sendErr = sendFiles(conn, files, compact, nil)
			return sendErr
		})
		if handled {
			if err != nil && sendErr == nil {
				SendError(conn, err.Error())
				return fmt.Errorf("handoff: %s %s: %w", req.Op, req.Unit, err)
			}
			if err != nil || s.Then == nil {
				return err
			}
			return s.Then(conn, cred, req)
		}
	}
	files, err := s.Answer(cred, req)
	if err != nil {
		SendError(conn, err.Error())
		return fmt.Errorf("handoff: %s %s: %w", req.Op, req.Unit, err)
	}
	// A peer of version 1.2 or later reads the compact encoding. Each
	// chunk's fds are closed as soon as it is sent, while the peer
	// receives it, rather than all at the end.
	err = sendFiles(conn, files, compact, CloseAll)
	CloseAll(files) // what was not sent
	if err != nil || s.Then == nil {
		return err
	}
	return s.Then(conn, cred, req)
}
