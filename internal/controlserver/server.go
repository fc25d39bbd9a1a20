package controlserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/logthrottle"
	"github.com/sockd/sockd/internal/rundir"
)

// Backend is what the server serves: the daemon, or a fake in tests.
// Names passed to it are canonical (see CanonicalName). Errors that are
// an *Error keep their status; others are answered 500.
type Backend interface {
	// Units returns every socket unit, sorted by name.
	Units(ctx context.Context) ([]control.Unit, error)
	// Unit returns one socket or service unit.
	Unit(ctx context.Context, name string) (control.Unit, error)
	// Do performs an action on a unit and returns when it is done.
	Do(ctx context.Context, name string, a control.Action) error
	// GracefulRestart restarts a service gracefully and returns once
	// the new instance is ready, or why it failed.
	GracefulRestart(ctx context.Context, name string) error
	// Reload re-reads the unit directories.
	Reload(ctx context.Context) error
	// Files returns the files a unit was loaded from.
	Files(ctx context.Context, name string) ([]control.File, error)
}

// Config configures a Server.
type Config struct {
	// Path is the control socket's path.
	Path string
	// Dir, if set, is the open runtime directory that holds Path: the
	// socket and its lock are then bound and opened through it, never by
	// resolving Path again (see internal/rundir).
	Dir *rundir.Dir
	// Group is the gid whose members may make changes, and the socket's
	// group (mode 0660); -1 for none (mode 0600).
	Group   int
	Backend Backend
	Log     *slog.Logger
	// Metrics, if set, is served at GET /metrics, readable by anyone
	// who may connect (metrics.go).
	Metrics http.Handler
	// Timeouts; zero means the defaults above.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Server serves the control API on a Unix socket.
type Server struct {
	cfg    Config
	uid    int
	http   *http.Server
	ln     *socketListener
	limit  *connLimit            // ln within MaxConns and MaxConnsPerUID
	warn   *logthrottle.Throttle // refusals: one line per uid per interval
	base   context.Context
	cancel context.CancelFunc
}

// Listen binds the control socket (see the package documentation for
// the permissions) and returns a Server ready to Serve.
func Listen(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	mode := os.FileMode(0o600)
	if cfg.Group >= 0 {
		mode = 0o660
	}
	ln, err := listen(cfg.Path, cfg.Dir, mode, cfg.Group)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, uid: os.Getuid(), ln: ln, warn: logthrottle.New(cfg.Log, 0)}
	s.limit = newConnLimit(ln, s.uid, s.warn)
	s.base, s.cancel = context.WithCancel(context.Background())
	s.http = &http.Server{
		Handler:           s,
		MaxHeaderBytes:    control.MaxHeaderBytes,
		ReadHeaderTimeout: orDefault(cfg.ReadHeaderTimeout, control.ReadHeaderTimeout),
		ReadTimeout:       orDefault(cfg.ReadTimeout, control.ReadTimeout),
		IdleTimeout:       orDefault(cfg.IdleTimeout, control.IdleTimeout),
		ConnContext:       connContext,
		ConnState:         s.limit.track,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Path returns the control socket's path.
func (s *Server) Path() string { return s.cfg.Path }

// Serve answers requests until Shutdown or Close; it returns nil then.
func (s *Server) Serve() error {
	err := s.http.Serve(s.limit)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// cancelGrace is how long a request cancelled by Shutdown has to send
// its answer (503 "request cancelled: sockd is stopping") before its
// connection is closed.
const cancelGrace = time.Second

// Shutdown stops accepting connections, waits for the requests in
// progress until ctx is done, then cancels them (each answers that sockd
// is stopping, within cancelGrace), and removes the socket.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.cancel()
		last, stop := context.WithTimeout(context.Background(), cancelGrace)
		s.http.Shutdown(last) // the listener is closed already: its error says so
		stop()
		err = s.http.Close()
	}
	s.cancel()
	s.ln.Close()
	return err
}

// Close stops the server at once, cancelling requests in progress.
func (s *Server) Close() error {
	s.cancel()
	err := s.http.Close()
	s.ln.Close()
	return err
}

// mayChange reports whether p may make changes.
func (s *Server) mayChange(p Peer) bool {
	return p.UID == 0 || p.UID == s.uid || (s.cfg.Group >= 0 && p.InGroup(s.cfg.Group))
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, control.MaxBodyBytes)
	peer, known := PeerFrom(r.Context())
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	if r.URL.Path == "/metrics" {
		s.serveMetrics(w, r) // metrics.go
		return
	}
	if len(parts) < 2 || parts[0] != control.Version {
		s.fail(w, control.Errorf(http.StatusNotFound, "", "no such API path %q (this is API %s)", r.URL.Path, control.Version))
		return
	}
	change := r.Method != http.MethodGet && r.Method != http.MethodHead
	if change && !(known && s.mayChange(peer)) {
		s.warn.Warn("control request refused uid "+strconv.Itoa(peer.UID), "control request refused", "uid", peer.UID, "gid", peer.GID, "pid", peer.PID,
			"method", r.Method, "path", r.URL.Path, "peer_known", known)
		s.fail(w, control.Errorf(http.StatusForbidden, "", "permission denied: uid %d may read but not make changes (allowed: root, uid %d%s)",
			peer.UID, s.uid, s.groupNote()))
		return
	}
	if len(parts) == 2 && s.serveDaemon(w, r, parts[1], peer) {
		return
	}
	switch {
	case len(parts) == 2 && parts[1] == "units":
		if !s.method(w, r, http.MethodGet) {
			return
		}
		us, err := s.cfg.Backend.Units(r.Context())
		if err != nil {
			s.fail(w, err)
			return
		}
		if us == nil {
			us = []control.Unit{}
		}
		s.reply(w, map[string]any{"units": us})
	case len(parts) == 2 && parts[1] == "reset-failed":
		s.serveOp(w, r, "", "reset-failed", peer) // ops.go
	case len(parts) == 2 && parts[1] == "reload":
		if !s.method(w, r, http.MethodPost) || !s.body(w, r, "", &struct{}{}) {
			return
		}
		s.cfg.Log.Info("reload requested", "uid", peer.UID, "pid", peer.PID)
		if err := s.cfg.Backend.Reload(r.Context()); err != nil {
			s.fail(w, err)
			return
		}
		s.reply(w, map[string]any{"ok": true})
	case (len(parts) == 3 || len(parts) == 4) && parts[1] == "units":
		name, err := control.CanonicalName(parts[2])
		if err != nil {
			s.fail(w, control.Errorf(http.StatusBadRequest, parts[2], "%v", err))
			return
		}
		if len(parts) == 3 {
			if s.method(w, r, http.MethodGet) {
				s.unit(w, r, name)
			}
			return
		}
		switch sub := parts[3]; sub {
		case "files":
			if !s.method(w, r, http.MethodGet) {
				return
			}
			fs, err := s.cfg.Backend.Files(r.Context(), name)
			if err != nil {
				s.fail(w, withUnit(err, name))
				return
			}
			if fs == nil {
				fs = []control.File{}
			}
			s.reply(w, map[string]any{"files": fs})
		case "log":
			s.serveLog(w, r, name) // logs.go
		case "kill", "reset-failed":
			s.serveOp(w, r, name, sub, peer) // ops.go
		case string(control.Start), string(control.Stop), string(control.Restart), string(control.ReloadUnit):
			var req control.ActionRequest
			var into any = &struct{}{}
			if sub == string(control.Restart) {
				into = &req
			}
			if !s.method(w, r, http.MethodPost) || !s.body(w, r, name, into) {
				return
			}
			s.cfg.Log.Info("control request", "action", sub, "unit", name, "graceful", req.Graceful, "uid", peer.UID, "pid", peer.PID)
			var err error
			if req.Graceful {
				err = s.cfg.Backend.GracefulRestart(r.Context(), name)
			} else {
				err = s.cfg.Backend.Do(r.Context(), name, control.Action(sub))
			}
			if err != nil {
				s.fail(w, withUnit(err, name))
				return
			}
			s.unit(w, r, name)
		default:
			s.fail(w, control.Errorf(http.StatusNotFound, name, "no such API path %q", r.URL.Path))
		}
	default:
		s.fail(w, control.Errorf(http.StatusNotFound, "", "no such API path %q", r.URL.Path))
	}
}

func (s *Server) groupNote() string {
	if s.cfg.Group >= 0 {
		return fmt.Sprintf(", group %d", s.cfg.Group)
	}
	return ""
}

func (s *Server) unit(w http.ResponseWriter, r *http.Request, name string) {
	u, err := s.cfg.Backend.Unit(r.Context(), name)
	if err != nil {
		s.fail(w, withUnit(err, name))
		return
	}
	s.reply(w, u)
}

// method checks the request's method, answering 405 if it is not want.
func (s *Server) method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || (want == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", want)
	s.fail(w, control.Errorf(http.StatusMethodNotAllowed, "", "method %s not allowed on %s (use %s)", r.Method, r.URL.Path, want))
	return false
}

// body reads an action's optional body into into: nothing, or a JSON
// object with only the fields into has (decodeBody).
func (s *Server) body(w http.ResponseWriter, r *http.Request, unit string, into any) bool {
	if err := decodeBody(r.Body, into); err != nil {
		s.fail(w, withUnit(err, unit))
		return false
	}
	return true
}

// withUnit names the unit in an error that does not name one.
func withUnit(err error, name string) error {
	if errors.Is(err, context.Canceled) {
		return control.Errorf(http.StatusServiceUnavailable, name, "request cancelled: sockd is stopping")
	}
	var e *control.Error
	if errors.As(err, &e) && e.Unit == "" {
		c := *e
		c.Unit = name
		return &c
	}
	if !errors.As(err, &e) {
		return &control.Error{Status: http.StatusInternalServerError, Unit: name, Message: err.Error()}
	}
	return err
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	var e *control.Error
	if !errors.As(err, &e) {
		e = &control.Error{Status: http.StatusInternalServerError, Message: err.Error()}
	}
	if errors.Is(err, context.Canceled) {
		e = &control.Error{Status: http.StatusServiceUnavailable, Unit: e.Unit, Message: "request cancelled: sockd is stopping"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(e)
}

func (s *Server) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
