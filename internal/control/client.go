package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"syscall"
)

// Client talks to sockd's control socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the control socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    1,
		IdleConnTimeout: IdleTimeout / 2,
	}
	return &Client{path: path, http: &http.Client{Transport: tr}}
}

// NotRunningError is returned when nothing listens on the control socket.
type NotRunningError struct {
	Path string
	Err  error
}

func (e *NotRunningError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("sockd is not running (no control socket at %s)", e.Path)
	}
	return fmt.Sprintf("sockd is not running (nothing answers on %s)", e.Path)
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// Units returns every socket unit.
func (c *Client) Units(ctx context.Context) ([]Unit, error) {
	var r struct{ Units []Unit }
	err := c.call(ctx, http.MethodGet, "/v1/units", &r)
	return r.Units, err
}

// Unit returns one unit ("web", "web.socket", "web.service").
func (c *Client) Unit(ctx context.Context, name string) (Unit, error) {
	var u Unit
	err := c.call(ctx, http.MethodGet, "/v1/units/"+url.PathEscape(name), &u)
	return u, err
}

// Files returns the files a unit was loaded from.
func (c *Client) Files(ctx context.Context, name string) ([]File, error) {
	var r struct{ Files []File }
	err := c.call(ctx, http.MethodGet, "/v1/units/"+url.PathEscape(name)+"/files", &r)
	return r.Files, err
}

// Do performs an action on a unit and returns the unit afterwards.
func (c *Client) Do(ctx context.Context, name string, a Action) (Unit, error) {
	var u Unit
	err := c.call(ctx, http.MethodPost, "/v1/units/"+url.PathEscape(name)+"/"+string(a), &u)
	return u, err
}

// GracefulRestart restarts a service gracefully (ActionRequest) and
// returns the unit once the new instance is ready; if it failed, the
// error says why and that the old instance was kept.
func (c *Client) GracefulRestart(ctx context.Context, name string) (Unit, error) {
	var u Unit
	err := c.callWith(ctx, http.MethodPost, "/v1/units/"+url.PathEscape(name)+"/"+string(Restart), ActionRequest{Graceful: true}, &u)
	return u, err
}

// Reload asks sockd to re-read its unit directories.
func (c *Client) Reload(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/reload", nil)
}

func (c *Client) call(ctx context.Context, method, path string, out any) error {
	var in any
	if method == http.MethodPost {
		in = struct{}{}
	}
	return c.callWith(ctx, method, path, in, out)
}

// transportErr is the error of a request that got no answer.
func (c *Client) transportErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTDIR) {
		return &NotRunningError{Path: c.path, Err: err}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("cannot connect to sockd at %s: %w", c.path, op.Err)
	}
	return fmt.Errorf("talking to sockd at %s: %w", c.path, err)
}

// callWith sends in (if not nil) as the JSON body of the request.
func (c *Client) callWith(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://sockd"+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportErr(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading sockd's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("sockd answered %s: %s", resp.Status, bytes.TrimSpace(data))
		}
		e.Status = resp.StatusCode
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("malformed answer from sockd: %w", err)
	}
	return nil
}
