package daemon

import (
	"context"
	"net/http"
	"strings"

	"github.com/sockd/sockd/internal/control"
)

// Log returns a unit's log records (controlserver.LogReader): those of
// its socket, its service and the service's instances, which logring
// keeps under one key. The unit must be loaded (or have failed to load).
func (b *controlBackend) Log(ctx context.Context, name string, q control.LogQuery) ([]control.LogRecord, <-chan control.LogRecord, func(), error) {
	if _, _, err := b.find(name); err != nil {
		if _, ok := b.d.Invalid()[strings.TrimSuffix(name, ".socket")]; !ok {
			return nil, nil, nil, err
		}
	}
	if b.ring == nil {
		return nil, nil, nil, control.Errorf(http.StatusNotImplemented, name, "this sockd keeps no logs")
	}
	if !q.Follow {
		return b.ring.Tail(name, q.Lines, q.Since), nil, func() {}, nil
	}
	past, next, stop := b.ring.Follow(name, q.Lines, q.Since)
	// The stream ends when sockd stops, as well as when the client goes.
	unhook := context.AfterFunc(b.ctx, stop)
	return past, next, func() { unhook(); stop() }, nil
}
