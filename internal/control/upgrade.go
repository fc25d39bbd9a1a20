package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// Daemon describes the running sockd: GET /v1/daemon.
type Daemon struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
	// Generation counts the images of this sockd: 1 at the first start,
	// one more after each upgrade (re-execution in place or takeover).
	Generation int       `json:"generation"`
	Binary     string    `json:"binary"`  // the binary this image runs
	Started    time.Time `json:"started"` // when generation 1 started
	// Upgraded is when this generation took over (zero for generation 1).
	Upgraded time.Time `json:"upgraded,omitzero"`
	// Ready is true once the units are loaded and supervised; the
	// control socket answers earlier.
	Ready bool `json:"ready"`
}

// UpgradeRequest is the body of POST /v1/upgrade.
type UpgradeRequest struct {
	// Binary is the sockd binary to re-execute; empty means the path
	// sockd was started from (where a package upgrade puts the new one).
	Binary string `json:"binary,omitempty"`
}

// Upgrader is implemented by a Backend that can upgrade sockd in place.
type Upgrader interface {
	// Daemon describes the running sockd.
	Daemon(ctx context.Context) (Daemon, error)
	// Upgrade checks the new binary and prepares the upgrade; it
	// returns the sockd being replaced and commit, which the server
	// calls once the answer is written: the re-execution starts then.
	// An error means nothing changed: the running sockd goes on.
	Upgrade(ctx context.Context, req UpgradeRequest) (Daemon, func(), error)
}

// serveDaemon answers GET /v1/daemon and POST /v1/upgrade; it reports
// false for other paths.
func (s *Server) serveDaemon(w http.ResponseWriter, r *http.Request, path string, peer Peer) bool {
	if path != "daemon" && path != "upgrade" {
		return false
	}
	up, ok := s.cfg.Backend.(Upgrader)
	if !ok {
		s.fail(w, Errorf(http.StatusNotImplemented, "", "this sockd cannot upgrade"))
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
	var req UpgradeRequest
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

// decodeBody decodes an optional JSON object body into v, refusing
// unknown fields.
func decodeBody(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", tooBig.Limit)
		}
		return Errorf(http.StatusBadRequest, "", "reading request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "", "malformed request body: %v", err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "", "malformed request body: data after the JSON object")
	}
	return nil
}

// Daemon describes the running sockd.
func (c *Client) Daemon(ctx context.Context) (Daemon, error) {
	var d Daemon
	err := c.call(ctx, http.MethodGet, "/v1/daemon", &d)
	return d, err
}

// Upgrade asks sockd to re-execute itself with req.Binary. It returns
// once sockd checked the binary and the units and is about to re-execute
// (use Daemon to see the new generation), or with the reason it refused;
// then the running sockd goes on unchanged.
func (c *Client) Upgrade(ctx context.Context, req UpgradeRequest) (Daemon, error) {
	var d Daemon
	err := c.callWith(ctx, http.MethodPost, "/v1/upgrade", req, &d)
	return d, err
}
