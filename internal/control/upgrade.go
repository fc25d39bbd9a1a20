package control

import (
	"context"
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
	// RolledBack is set when the last upgrade's new image could not
	// start and re-executed the previous binary with the same state:
	// it says why.
	RolledBack string `json:"rolled_back,omitempty"`
}

// UpgradeRequest is the body of POST /v1/upgrade.
type UpgradeRequest struct {
	// Binary is the sockd binary to re-execute; empty means the path
	// sockd was started from (where a package upgrade puts the new one).
	Binary string `json:"binary,omitempty"`
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
