package daemon

import (
	"context"
	"errors"
	"net/http"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/supervise"
)

// GracefulRestart restarts the service of an Accept=no unit gracefully
// (supervise.OpGracefulRestart): it returns once the new instance is
// ready, or with the reason it failed while the old one keeps serving.
// Only a service can be restarted so: a socket's restart rebinds its
// listeners, and Accept=yes instances each serve one connection.
func (b *controlBackend) GracefulRestart(ctx context.Context, name string) error {
	u, kind, err := b.find(name)
	if err != nil {
		return err
	}
	cfg := u.Config()
	switch {
	case kind == kindInstance:
		return control.Errorf(http.StatusBadRequest, name, "graceful restart: per-connection instances are started by connections only")
	case kind == "socket":
		return control.Errorf(http.StatusBadRequest, name, "graceful restart applies to the service, which keeps the listeners: use %s", cfg.Service.Name)
	case cfg.Socket.Accept:
		return control.Errorf(http.StatusBadRequest, name, "graceful restart needs Accept=no: %s is a template, sockd starts an instance of it per connection", cfg.Service.Name)
	}
	// A request in progress ends when sockd stops.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(b.ctx, cancel)()
	err = u.Do(ctx, supervise.OpGracefulRestart)
	switch {
	case errors.Is(err, supervise.ErrStopped) || (err != nil && b.ctx.Err() != nil):
		return control.Errorf(http.StatusServiceUnavailable, name, "sockd is stopping")
	case err != nil:
		return control.Errorf(http.StatusInternalServerError, name, "%v", err)
	}
	return nil
}
