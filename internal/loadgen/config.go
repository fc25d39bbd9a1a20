package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds of a run.
const (
	// MaxDuration is the longest a run lasts, whatever Config says.
	MaxDuration = 10 * time.Minute
	// DefaultTimeout is a request's timeout when Config.Timeout is 0.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxSamples is Config.MaxSamples when it is 0: 24 bytes a
	// sample, 48 MiB at most.
	DefaultMaxSamples = 2 << 20
	// maxBody is the longest body read and compared with Want.
	maxBody = 1 << 20
)

// Config says what to request, how, and for how long.
type Config struct {
	// Addr is the server's host:port; the host must be a loopback IP
	// address (127.0.0.0/8, ::1) or "localhost" resolving only to
	// loopback addresses.
	Addr string
	// Path is the request's path and query; "/" when empty.
	Path string
	// Want must occur somewhere in the body (a substring, not only a
	// prefix) of an answer with status 200 for it to count as OK; an
	// empty Want accepts any body. Only the first MiB of a body is
	// read: a longer body is a wrong answer.
	Want string
	// Conns is the number of new-connection workers: one TCP
	// connection per request, "Connection: close".
	Conns int
	// KeepAlive is the number of keep-alive workers: each reuses its
	// own connection while the server keeps it open.
	KeepAlive int
	// Duration stops the workers from starting requests after this
	// long; requests under way finish (or time out) and are counted.
	// 0 means MaxDuration; at most MaxDuration.
	Duration time.Duration
	// MaxRequests stops the run after this many requests, all workers
	// together; 0 means no limit other than Duration. At least one of
	// Duration and MaxRequests must be set.
	MaxRequests int
	// Timeout bounds each request, from dialling to the end of the
	// body; 0 means DefaultTimeout.
	Timeout time.Duration
	// Rate, if positive, is the most requests per second each worker
	// starts: a worker waits 1/Rate seconds between the starts of its
	// requests. 0 means back to back.
	Rate float64
	// MaxSamples bounds the samples kept for Stats and Window, one per
	// request; the counts are always exact. 0 means DefaultMaxSamples.
	MaxSamples int
}

// plan is a checked Config: the address to dial and every default
// filled in.
type plan struct {
	Config
	dial string // the loopback ip:port every connection goes to
	url  string // what is requested: http://Addr/Path
}

// check validates c and returns its plan.
func (c Config) check(ctx context.Context) (plan, error) {
	p := plan{Config: c}
	if c.Conns < 0 || c.KeepAlive < 0 || c.Conns+c.KeepAlive == 0 {
		return p, fmt.Errorf("loadgen: %d new-connection and %d keep-alive workers: want at least one worker, and no negative count", c.Conns, c.KeepAlive)
	}
	if c.Duration <= 0 && c.MaxRequests <= 0 {
		return p, errors.New("loadgen: unbounded run: set Duration or MaxRequests")
	}
	if c.Duration > MaxDuration {
		return p, fmt.Errorf("loadgen: duration %v exceeds %v", c.Duration, MaxDuration)
	}
	if c.Timeout > MaxDuration {
		return p, fmt.Errorf("loadgen: timeout %v exceeds %v", c.Timeout, MaxDuration)
	}
	if c.MaxRequests < 0 || c.Timeout < 0 || c.Rate < 0 || c.MaxSamples < 0 {
		return p, errors.New("loadgen: negative MaxRequests, Timeout, Rate or MaxSamples")
	}
	if c.Path == "" {
		p.Path = "/"
	}
	if !strings.HasPrefix(p.Path, "/") {
		return p, fmt.Errorf("loadgen: path %q does not start with /", c.Path)
	}
	if c.Duration == 0 {
		p.Duration = MaxDuration
	}
	if c.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if c.MaxSamples == 0 {
		p.MaxSamples = DefaultMaxSamples
	}
	var err error
	if p.dial, err = loopback(ctx, c.Addr); err != nil {
		return p, err
	}
	u, err := url.Parse("http://" + c.Addr + p.Path)
	if err != nil {
		return p, fmt.Errorf("loadgen: path %q: %w", c.Path, err)
	}
	p.url = u.String()
	return p, nil
}

// loopback returns addr as ip:port after checking that it is a loopback
// address; "localhost" is resolved, and refused unless every address it
// has is loopback; its first IPv4 address is used, if it has one.
func loopback(ctx context.Context, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if host == "localhost" {
		ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return "", fmt.Errorf("loadgen: address %s: %w", addr, err)
		}
	} else {
		return "", fmt.Errorf("loadgen: address %s: not a loopback IP address or localhost", addr)
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() || ip.Zone() != "" {
			return "", fmt.Errorf("loadgen: address %s: %s is not a loopback address", addr, ip)
		}
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("loadgen: address %s: no addresses", addr)
	}
	// Prefer IPv4, as a server listening on "localhost:port" usually
	// does.
	ip := ips[0]
	if i := slices.IndexFunc(ips, func(a netip.Addr) bool { return a.Unmap().Is4() }); i >= 0 {
		ip = ips[i]
	}
	return net.JoinHostPort(ip.Unmap().String(), port), nil
}
