package controlserver

import (
	"context"
	"net/http"
	"syscall"

	"github.com/sockd/sockd/internal/control"
)

// Operator is implemented by a Backend that can signal and reset units.
type Operator interface {
	// Kill sends sig to the processes of the unit's service.
	Kill(ctx context.Context, name string, sig syscall.Signal) error
	// ResetFailed clears the unit's failed state.
	ResetFailed(ctx context.Context, name string) error
	// ResetAllFailed clears the failed state of every unit.
	ResetAllFailed(ctx context.Context) error
}

// serveOp answers POST /v1/units/NAME/kill (control.KillRequest) and
// POST /v1/units/NAME/reset-failed, with the unit as it is then; and,
// for name "", POST /v1/reset-failed.
func (s *Server) serveOp(w http.ResponseWriter, r *http.Request, name, op string, peer Peer) {
	var req control.KillRequest
	var into any = &struct{}{}
	if op == "kill" {
		into = &req
	}
	if !s.method(w, r, http.MethodPost) || !s.body(w, r, name, into) {
		return
	}
	o, ok := s.cfg.Backend.(Operator)
	if !ok {
		s.fail(w, control.Errorf(http.StatusNotImplemented, name, "this sockd cannot %s", op))
		return
	}
	s.cfg.Log.Info("control request", "action", op, "unit", name, "signal", req.Signal, "uid", peer.UID, "pid", peer.PID)
	var err error
	switch {
	case op == "kill" && (req.Signal <= 0 || req.Signal > 64):
		err = control.Errorf(http.StatusBadRequest, name, "kill: signal %d out of range", req.Signal)
	case op == "kill":
		err = o.Kill(r.Context(), name, syscall.Signal(req.Signal))
	case name == "":
		err = o.ResetAllFailed(r.Context())
	default:
		err = o.ResetFailed(r.Context(), name)
	}
	if err != nil {
		s.fail(w, withUnit(err, name))
		return
	}
	if name == "" {
		s.reply(w, map[string]any{"ok": true})
		return
	}
	s.unit(w, r, name)
}
