package controlserver

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/sockd/sockd/internal/control"
)

// LogReader is implemented by a Backend that keeps its units' logs.
type LogReader interface {
	// Log returns the unit's records that q selects and, with q.Follow,
	// a channel of the next ones, closed after stop (stop is never nil).
	Log(ctx context.Context, name string, q control.LogQuery) (past []control.LogRecord, next <-chan control.LogRecord, stop func(), err error)
}

// serveLog answers GET /v1/units/NAME/log (control.LogQuery): one JSON
// record per line, flushed as each is written.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, name string) {
	if !s.method(w, r, http.MethodGet) {
		return
	}
	lr, ok := s.cfg.Backend.(LogReader)
	if !ok {
		s.fail(w, control.Errorf(http.StatusNotImplemented, name, "this sockd keeps no logs"))
		return
	}
	q, err := control.ParseLogQuery(r.URL.Query())
	if err != nil {
		s.fail(w, control.Errorf(http.StatusBadRequest, name, "%v", err))
		return
	}
	past, next, stop, err := lr.Log(r.Context(), name, q)
	if err != nil {
		s.fail(w, withUnit(err, name))
		return
	}
	defer stop()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	for _, rec := range past {
		if enc.Encode(rec) != nil {
			return
		}
	}
	flush()
	if !q.Follow {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case rec, ok := <-next:
			if !ok || enc.Encode(rec) != nil {
				return
			}
			flush()
		}
	}
}
