package control

import (
	"context"
	"net/http"
	"net/url"
)

// KillRequest is the body of POST /v1/units/NAME/kill.
type KillRequest struct {
	Signal int `json:"signal"` // the signal number, as kill(2) takes it
}

// Kill sends sig to the processes of a unit's service, as systemctl kill.
func (c *Client) Kill(ctx context.Context, name string, sig int) (Unit, error) {
	var u Unit
	err := c.callWith(ctx, http.MethodPost, "/v1/units/"+url.PathEscape(name)+"/kill", KillRequest{Signal: sig}, &u)
	return u, err
}

// ResetFailed clears a unit's failed state; name "" clears every unit's.
func (c *Client) ResetFailed(ctx context.Context, name string) error {
	if name == "" {
		return c.call(ctx, http.MethodPost, "/v1/reset-failed", nil)
	}
	return c.call(ctx, http.MethodPost, "/v1/units/"+url.PathEscape(name)+"/reset-failed", nil)
}
