// Package metrics exposes sockd to Prometheus: per unit its state, the
// activations, accepted and refused connections, restarts, live
// instances and service start latency; per daemon its generation,
// upgrades and reloads. sockd serves it at /metrics on the control socket
// (sockd --metrics) and on a TCP address (--metrics-listen).
//
// The counters are read from the same snapshots `sockctl list --json`
// and `sockctl status` show, when Prometheus scrapes, so the two always
// agree; only the start latency is observed as it happens. It uses
// prometheus/client_golang, the reference implementation of the
// exposition formats, rather than writing them by hand.
package metrics

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sockd/sockd/internal/control"
)

// Source is where the metrics are read from at each scrape.
type Source struct {
	// Units returns every socket unit, as GET /v1/units does.
	Units func(context.Context) ([]control.Unit, error)
	// Daemon describes the running sockd.
	Daemon func() control.Daemon
	// Reloads counts the reloads applied by this generation.
	Reloads func() int64
}

// Metrics is sockd's registry.
type Metrics struct {
	reg   *prometheus.Registry
	start *prometheus.HistogramVec
}

// activeStates are the values of the state label, as systemd's
// ActiveState (node_exporter's systemd collector uses the same).
var activeStates = []string{"active", "activating", "deactivating", "inactive", "failed"}

var (
	descState       = prometheus.NewDesc("sockd_unit_state", "1 for the socket unit's current ActiveState, 0 for the others.", []string{"unit", "state"}, nil)
	descActivations = prometheus.NewDesc("sockd_unit_activations_total", "Service starts caused by traffic (Accept=yes: instances started, one per accepted connection).", []string{"unit"}, nil)
	descAccepted    = prometheus.NewDesc("sockd_unit_accepted_total", "Connections accepted, as sockctl list's ACCEPTED (Accept=no units: activations).", []string{"unit"}, nil)
	descRefused     = prometheus.NewDesc("sockd_unit_refused_total", "Connections refused: over MaxConnections= or MaxConnectionsPerSource=.", []string{"unit"}, nil)
	descRestarts    = prometheus.NewDesc("sockd_unit_restarts_total", "Automatic restarts of the service (Restart=).", []string{"unit"}, nil)
	descInstances   = prometheus.NewDesc("sockd_unit_instances", "Live per-connection instances of an Accept=yes unit.", []string{"unit"}, nil)
	descGeneration  = prometheus.NewDesc("sockd_generation", "The exec image of sockd: 1 at the first start, one more per upgrade or takeover.", nil, nil)
	descUpgrades    = prometheus.NewDesc("sockd_upgrades_total", "Upgrades and takeovers since the first generation started.", nil, nil)
	descReloads     = prometheus.NewDesc("sockd_reloads_total", "Reloads of the unit directories applied by this generation.", nil, nil)
	descUnits       = prometheus.NewDesc("sockd_units", "Socket units loaded (or failed to load).", nil, nil)
)

// New returns the metrics of src, with the Go runtime's and the
// process's own.
func New(src Source) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		start: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sockd_unit_start_duration_seconds",
			Help:    "Time from a service's start to its readiness (Type=notify: READY=1), ExecStartPre= included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9), // 1 ms … 65 s
		}, []string{"unit"}),
	}
	m.reg.MustRegister(m.start, &collector{src: src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveStart records how long a start of unit's service took.
func (m *Metrics) ObserveStart(unit string, d time.Duration) {
	m.start.WithLabelValues(unit).Observe(d.Seconds())
}

// Handler serves the exposition.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

type collector struct{ src Source }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descActivations, descAccepted, descRefused, descRestarts, descInstances, descGeneration, descUpgrades, descReloads, descUnits} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	us, err := c.src.Units(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descUnits, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUnits, prometheus.GaugeValue, float64(len(us)))
	for _, u := range us {
		for _, s := range activeStates {
			v := 0.0
			if u.ActiveState == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, u.Name, s)
		}
		counter := func(d *prometheus.Desc, v int) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), u.Name)
		}
		counter(descActivations, u.Activations)
		counter(descAccepted, u.Activations)
		counter(descRefused, u.Refused)
		counter(descRestarts, u.Restarts)
		if strings.Contains(u.Service, "@.") {
			ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(u.Connections), u.Name)
		}
	}
	d := c.src.Daemon()
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(d.Generation))
	ch <- prometheus.MustNewConstMetric(descUpgrades, prometheus.CounterValue, float64(max(d.Generation-1, 0)))
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(c.src.Reloads()))
}
