package controlserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sockd/sockd/internal/control"
)

// Upgrader is implemented by a Backend that can upgrade sockd in place.
type Upgrader interface {
	// Daemon describes the running sockd.
	Daemon(ctx context.Context) (control.Daemon, error)
	// Upgrade checks the new binary and prepares the upgrade; it
	// returns the sockd being replaced and commit, which the server
	// calls once the answer is written: the re-execution starts then.
	// An error means nothing changed: the running sockd goes on.
	Upgrade(ctx context.Context, req control.UpgradeRequest) (control.Daemon, func(), error)
}

// serveDaemon answers GET /v1/daemon and POST /v1/upgrade; it reports
// false for other paths.
func (s *Server) serveDaemon(w http.ResponseWriter, r *http.Request, path string, peer Peer) bool {
	if path != "daemon" && path != "upgrade" {
		return false
	}
	up, ok := s.cfg.Backend.(Upgrader)
	if !ok {
		s.fail(w, control.Errorf(http.StatusNotImplemented, "", "this sockd cannot upgrade"))
		return true
	}
	if path == "daemon" {
		if s.method(w, r, http.MethodGet) {
			d, err := up.Daemon(r.Context())
			if err != nil {
				s.fail(w, err)
				return true
			}
			s.reply(w, d)
		}
		return true
	}
	if !s.method(w, r, http.MethodPost) {
		return true
	}
	if !s.mayUpgrade(peer) {
		s.cfg.Log.Warn("upgrade refused: only root or sockd's own user may upgrade", "uid", peer.UID, "gid", peer.GID, "pid", peer.PID)
		s.fail(w, control.Errorf(http.StatusForbidden, "", "permission denied: uid %d may not upgrade sockd (allowed: %s)", peer.UID, s.upgraders()))
		return true
	}
	var req control.UpgradeRequest
	if err := decodeBody(r.Body, &req); err != nil {
		s.fail(w, err)
		return true
	}
	s.cfg.Log.Info("upgrade requested", "binary", req.Binary, "uid", peer.UID, "pid", peer.PID)
	d, commit, err := up.Upgrade(r.Context(), req)
	if err != nil {
		s.fail(w, err)
		return true
	}
	s.reply(w, d)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	commit()
	return true
}

// mayUpgrade reports whether p may upgrade sockd: root, or sockd's own
// user when sockd does not run as root. Never the control group: an
// upgrade chooses the code sockd runs, with sockd's privileges, which
// is more than changing units (docs/upgrade.md, "Who may upgrade").
func (s *Server) mayUpgrade(p Peer) bool {
	return p.UID == 0 || (s.uid != 0 && p.UID == s.uid)
}

// upgraders says who may upgrade, for the refusal.
func (s *Server) upgraders() string {
	if s.uid == 0 {
		return "root only"
	}
	return fmt.Sprintf("root and uid %d", s.uid)
}

// decodeBody decodes an optional JSON object body into v, refusing
// unknown fields.
func decodeBody(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return control.Errorf(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", tooBig.Limit)
		}
		return control.Errorf(http.StatusBadRequest, "", "reading request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return control.Errorf(http.StatusBadRequest, "", "malformed request body: %v", err)
	}
	if dec.More() {
		return control.Errorf(http.StatusBadRequest, "", "malformed request body: data after the JSON object")
	}
	return nil
}
