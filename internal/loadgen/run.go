package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Run makes requests as c says until a bound is reached or ctx is done,
// waits for every worker and request to end, and returns what happened.
// Its error is for a Config it refuses; failed requests are counted in
// the Result. Requests cut short because ctx is done are counted as
// Canceled, not as failures.
func Run(ctx context.Context, c Config) (*Result, error) {
	p, err := c.check(ctx)
	if err != nil {
		return nil, err
	}
	r := &run{plan: p, start: time.Now()}
	r.stop = r.start.Add(p.Duration)
	r.samplesLeft.Store(int64(p.MaxSamples))
	workers := make([]*worker, 0, p.Conns+p.KeepAlive)
	for i := range p.Conns + p.KeepAlive {
		workers = append(workers, r.newWorker(i >= p.Conns))
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	return r.result(workers), nil
}

// run is the state the workers of one Run share.
type run struct {
	plan
	start, stop time.Time
	started     atomic.Int64 // requests claimed, for MaxRequests
	samplesLeft atomic.Int64 // room left for samples, for MaxSamples
}

// claim reports whether a worker may start another request, and counts
// it.
func (r *run) claim(ctx context.Context) bool {
	if ctx.Err() != nil || !time.Now().Before(r.stop) {
		return false
	}
	return r.MaxRequests == 0 || r.started.Add(1) <= int64(r.MaxRequests)
}

// worker makes one request at a time with its own client, and keeps its
// own tally, merged once it has ended.
type worker struct {
	run       *run
	keepAlive bool
	transport *http.Transport
	client    *http.Client
	dials     atomic.Int64 // the transport may dial on its own goroutine
	tally
}

func (r *run) newWorker(keepAlive bool) *worker {
	w := &worker{run: r, keepAlive: keepAlive}
	d := &net.Dialer{KeepAlive: -1}
	w.transport = &http.Transport{
		// Whatever the URL or a redirect says, connect to the
		// loopback address checked.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, "tcp", r.dial)
			if err == nil {
				w.dials.Add(1)
			}
			return c, err
		},
		DisableKeepAlives:   !keepAlive, // and so sends Connection: close
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
	}
	w.client = &http.Client{
		Transport:     w.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return w
}

// loop makes requests until the run's bounds or ctx stop it.
func (w *worker) loop(ctx context.Context) {
	defer w.transport.CloseIdleConnections()
	var next time.Time
	for w.pace(ctx, next) && w.run.claim(ctx) {
		begin := time.Now()
		if w.run.Rate > 0 {
			next = begin.Add(time.Duration(float64(time.Second) / w.run.Rate))
		}
		w.request(ctx, begin)
	}
}

// pace waits until next, the earliest start of the next request; it
// reports false if the run's end or ctx came first.
func (w *worker) pace(ctx context.Context, next time.Time) bool {
	wait := time.Until(next)
	if wait <= 0 {
		return true
	}
	if !next.Before(w.run.stop) {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// request makes one request, started at begin, and counts its outcome.
func (w *worker) request(ctx context.Context, begin time.Time) {
	if w.keepAlive {
		w.keepAliveRequests++
	} else {
		w.newConnRequests++
	}
	err := w.get(ctx)
	at := begin.Sub(w.run.start)
	switch {
	case err == nil:
		w.ok++
		w.sample(sample{at: at, latency: time.Since(begin)})
	case ctx.Err() != nil:
		w.canceled++
	default:
		w.fail(classify(err), at, err)
		w.sample(sample{at: at, latency: time.Since(begin), failed: true})
	}
}

// get requests the URL and checks the answer.
func (w *worker) get(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.run.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.run.url, nil)
	if err != nil {
		return err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return fmt.Errorf("reading the body: %w", err)
	case resp.StatusCode != http.StatusOK:
		return &wrongAnswer{fmt.Sprintf("status %q, body %.64q", resp.Status, body)}
	case len(body) > maxBody:
		return &wrongAnswer{fmt.Sprintf("body longer than %d bytes", maxBody)}
	case !bytes.Contains(body, []byte(w.run.Want)):
		return &wrongAnswer{fmt.Sprintf("body %.64q does not contain %q", body, w.run.Want)}
	}
	return nil
}

// sample keeps s if the run has room left for it.
func (w *worker) sample(s sample) {
	if w.run.samplesLeft.Add(-1) < 0 {
		w.dropped++
		return
	}
	w.samples = append(w.samples, s)
}
