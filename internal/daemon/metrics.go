package daemon

import (
	"sync/atomic"
	"time"

	"github.com/sockd/sockd/internal/metrics"
)

// counters are what the daemon counts for its metrics alone.
type counters struct {
	reloads atomic.Int64 // reloads applied (Reload)
}

// NewMetrics returns the daemon's Prometheus metrics (internal/metrics),
// read from the same unit snapshots as the control API. Call it before
// Load, so that every service start is observed.
func (d *Daemon) NewMetrics() *metrics.Metrics {
	b := &controlBackend{d: d}
	m := metrics.New(metrics.Source{
		Units:   b.Units,
		Daemon:  d.Info,
		Reloads: d.counters.reloads.Load,
	})
	d.metrics.Store(m)
	return m
}

// observeStart records a service's start latency (supervise.Deps).
func (d *Daemon) observeStart(unit string, took time.Duration) {
	if m := d.metrics.Load(); m != nil {
		m.ObserveStart(unit, took)
	}
}
