package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/handoff"
	"github.com/sockd/sockd/internal/logthrottle"
	"github.com/sockd/sockd/internal/safesock"
	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units"
)

// HandoffSocketName is the name of the handoff socket in the runtime
// directory.
const HandoffSocketName = upgrade.HandoffSocketName

// Limits of the handoff socket: how long one exchange may take, and how
// many connections are served at once (more are answered "busy").
const (
	handoffTimeout  = 5 * time.Second
	handoffMaxConns = 16
)

// ServeHandoff serves RUNTIME_DIR/handoff.sock, a SOCK_SEQPACKET socket
// of mode 0600 speaking the handoff protocol: a peer that is root or
// sockd's own user (SO_PEERCRED) may ask for the listening fds of a unit
// (handoff.Listeners) and gets dups of them; others are refused and
// logged. It serves until ctx is done or stop is called; stop closes the
// socket, ends the connections in progress and waits until every
// goroutine has returned (one waiting for a reload to finish returns
// after it). Call it after ServeControl, whose lock keeps a second sockd
// off the runtime directory.
func (d *Daemon) ServeHandoff(ctx context.Context) (stop func(), err error) {
	path := filepath.Join(d.rundir.Path(), HandoffSocketName)
	ln, err := safesock.Listen("unixpacket", d.rundir.At(HandoffSocketName), 0o600, -1)
	if err != nil {
		return nil, fmt.Errorf("handoff %w", err)
	}
	s := &handoffServer{
		d: d, ln: ln,
		log:   d.log.With("component", "handoff"),
		conns: map[*net.UnixConn]struct{}{},
		slots: make(chan struct{}, handoffMaxConns),
		done:  make(chan struct{}),
	}
	s.refusals = logthrottle.New(s.log, 0)
	s.wg.Add(1)
	go s.acceptLoop()
	s.log.Info("handoff socket ready", "path", path)
	return untilStopped(ctx, s.close), nil
}

// handoffServer owns the handoff listener and the goroutines serving it.
type handoffServer struct {
	d     *Daemon
	ln    *safesock.Listener // removes its node on Close if still ours
	log   *slog.Logger
	slots chan struct{} // one per connection being served
	done  chan struct{} // closed by close
	wg    sync.WaitGroup

	refusals *logthrottle.Throttle // refused peers: one line per uid per interval

	mu     sync.Mutex
	conns  map[*net.UnixConn]struct{}
	closed bool
}

// acceptLoop accepts connections until the listener is closed.
func (s *handoffServer) acceptLoop() {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := s.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// EMFILE and the like: the listener is still good, but
			// retrying at once would spin.
			s.log.Warn("accepting a handoff connection", "err", err)
			select {
			case <-s.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		select {
		case s.slots <- struct{}{}:
		default:
			c.SetDeadline(time.Now().Add(time.Second))
			handoff.SendError(c, "busy: too many handoff connections, try again")
			c.Close()
			continue
		}
		if !s.track(c) {
			c.Close()
			<-s.slots
			return
		}
		go s.serve(c)
	}
}

// track records c as being served; false once the server is closing.
func (s *handoffServer) track(c *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// serve answers the one request of c and closes it.
func (s *handoffServer) serve(c *net.UnixConn) {
	defer s.wg.Done()
	defer func() { <-s.slots }()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	c.SetDeadline(time.Now().Add(handoffTimeout))
	srv := &handoff.Server{Answer: s.answer, Lend: s.lend, Then: s.takeoverThen} // root or sockd's user
	err := srv.ServeConn(c)
	var refused *handoff.RefusedError
	switch {
	case err == nil:
	case errors.As(err, &refused):
		p := refused.Peer
		s.refusals.Warn("handoff refused uid "+strconv.Itoa(int(p.Uid)), "handoff refused: peer is neither root nor sockd's user", "uid", p.Uid, "gid", p.Gid, "pid", p.Pid)
	case errors.Is(err, io.EOF):
		s.log.Debug("handoff connection closed before a request", "err", err)
	default:
		s.log.Warn("handoff failed", "err", err)
	}
}

// answer is the handoff.Server's Answer: it logs who asks for what.
func (s *handoffServer) answer(peer unix.Ucred, req handoff.Request) ([]handoff.File, error) {
	files, err := s.d.handoffListeners(req)
	if err == nil {
		s.log.Info("handing off listeners", "unit", req.Unit, "fds", len(files), "uid", peer.Uid, "pid", peer.Pid)
	}
	return files, err
}

// lend is the handoff.Server's Lend: it answers a takeover with the
// listeners themselves, not dups (10,000 listeners would need 10,000
// more fds), holding d.mu — under which every listener is closed —
// until they are sent, and with dups of the fd store entries.
func (s *handoffServer) lend(peer unix.Ucred, req handoff.Request, send func([]handoff.File) error) (bool, error) {
	if req.Op != handoff.OpTakeover {
		return false, nil
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	files, err := s.d.takeoverFiles()
	if err != nil {
		return true, err
	}
	defer closeStored(files)
	s.log.Info("a new sockd asks to take over", "fds", len(files), "uid", peer.Uid, "pid", peer.Pid)
	return true, send(files)
}

// close stops accepting, ends the connections in progress and waits for
// every goroutine; it removes the socket node if it is still ours.
func (s *handoffServer) close() {
	s.mu.Lock()
	s.closed = true
	close(s.done)
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// handoffListeners answers a listeners request: dups of the unit's
// listening fds, in declaration order, with their metadata. It holds
// d.mu, under which every listener is closed, so no fd is closed (and
// its number reused) between Fd and the dup.
func (d *Daemon) handoffListeners(req handoff.Request) ([]handoff.File, error) {
	if req.Op != handoff.OpListeners {
		return nil, fmt.Errorf("unknown op %q (this sockd knows %q)", req.Op, handoff.OpListeners)
	}
	name := strings.TrimSuffix(req.Unit, ".socket")
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.units[name]
	if !ok {
		return nil, fmt.Errorf("unit %q: not loaded", req.Unit)
	}
	if r.stopped() {
		return nil, fmt.Errorf("unit %s.socket: stopped", name)
	}
	cfg := r.sup.Config()
	var files []handoff.File
	for _, l := range r.sup.Listeners() {
		f, err := handoffFile(cfg, l)
		if err != nil {
			handoff.CloseAll(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// handoffFile describes l, a listener of cfg, with a dup of its fd.
func handoffFile(cfg *units.Unit, l *activation.Listener) (handoff.File, error) {
	spec := l.Spec()
	fd := l.Fd()
	if fd < 0 {
		return handoff.File{}, fmt.Errorf("unit %s.socket: %s: closed", cfg.Name, spec.Address)
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return handoff.File{}, fmt.Errorf("unit %s.socket: %s: %w", cfg.Name, spec.Address, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err))
	}
	return handoff.File{
		Unit: cfg.Name, Name: l.Name, Kind: string(spec.Kind), Addr: spec.Address.String(),
		Fingerprint: units.Fingerprint(spec, &cfg.Socket), Fd: dup,
	}, nil
}
