package controlserver

import (
	"net/http"

	"github.com/sockd/sockd/internal/control"
)

// serveMetrics answers GET /metrics with the Prometheus exposition, if
// sockd runs with --metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		s.fail(w, control.Errorf(http.StatusNotFound, "", "metrics are off: start sockd with --metrics"))
		return
	}
	if s.method(w, r, http.MethodGet) {
		s.cfg.Metrics.ServeHTTP(w, r)
	}
}
