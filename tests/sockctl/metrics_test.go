package sockctl_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/tests/internal/e2e"
)

// scrape reads the exposition at url through client and parses it with
// Prometheus's own text parser.
func scrape(t *testing.T, client *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition at %s does not parse: %v", url, err)
	}
	return fams
}

// value returns the value of family name's sample whose label unit is
// unit (and state, if given).
func value(t *testing.T, fams map[string]*dto.MetricFamily, name, unit string, state ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["unit"] != unit || (len(state) > 0 && labels["state"] != state[0]) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no sample of %s for unit %q %v", name, unit, state)
	return 0
}

// histCount returns the sample count of histogram name for unit.
func histCount(t *testing.T, fams map[string]*dto.MetricFamily, name, unit string) uint64 {
	t.Helper()
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "unit" && l.GetValue() == unit {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	t.Fatalf("no histogram %s for unit %q", name, unit)
	return 0
}

// /metrics on the control socket and on --metrics-listen: a valid
// exposition whose counters match sockctl list --json after a known
// number of connections (issue 18).
func TestMetrics(t *testing.T) {
	port := e2e.FreePort(t)
	files := map[string]string{
		"echo.socket":   "[Socket]\nListenStream=$WORK/echo.sock\nAccept=yes\n",
		"echo@.service": "[Service]\nExecStart=/bin/true\n",
	}
	for k, v := range testUnits {
		files[k] = v
	}
	e := startSockd(t, files, "--metrics", "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", port))
	const conns = 5
	for range conns {
		e.connect("echo.sock")
	}
	e.connect("web.sock")
	e.waitFor("echo.socket", fmt.Sprintf("%d accepted", conns), func(u control.Unit) bool { return u.Activations == conns && u.Connections == 0 })
	e.waitState("web.service", "active", "running")
	e.want(0, []string{"reload"})

	unixClient := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(e.rt, control.SocketName))
	}}}
	rows := jsonOf[[]listRow](t, e.want(0, []string{"list", "--all", "--json"}))
	for _, url := range []string{"http://sockd/metrics", fmt.Sprintf("http://127.0.0.1:%d/metrics", port)} {
		client := unixClient
		if url[7] != 's' {
			client = http.DefaultClient
		}
		fams := scrape(t, client, url)
		for _, r := range rows {
			if got := value(t, fams, "sockd_unit_accepted_total", r.Unit); got != float64(r.Accepted) {
				t.Errorf("%s: sockd_unit_accepted_total{unit=%q} = %v; sockctl list says %d", url, r.Unit, got, r.Accepted)
			}
			if got := value(t, fams, "sockd_unit_refused_total", r.Unit); got != float64(r.Refused) {
				t.Errorf("%s: sockd_unit_refused_total{unit=%q} = %v; sockctl list says %d", url, r.Unit, got, r.Refused)
			}
		}
		if got := value(t, fams, "sockd_unit_accepted_total", "echo.socket"); got != conns {
			t.Errorf("%s: echo.socket accepted %v; want %d", url, got, conns)
		}
		if got := value(t, fams, "sockd_unit_activations_total", "web.socket"); got != 1 {
			t.Errorf("%s: web.socket activations %v; want 1", url, got)
		}
		if got := value(t, fams, "sockd_unit_state", "web.socket", "active"); got != 1 {
			t.Errorf("%s: web.socket state active = %v; want 1", url, got)
		}
		if got := histCount(t, fams, "sockd_unit_start_duration_seconds", "web.socket"); got != 1 {
			t.Errorf("%s: web.socket start latency observed %d times; want 1 (one start)", url, got)
		}
		if got := value(t, fams, "sockd_reloads_total", ""); got != 1 {
			t.Errorf("%s: sockd_reloads_total = %v; want 1", url, got)
		}
		if got := value(t, fams, "sockd_generation", ""); got != 1 {
			t.Errorf("%s: sockd_generation = %v; want 1", url, got)
		}
	}
}

// Without --metrics, /metrics on the control socket says how to turn it
// on.
func TestMetricsOff(t *testing.T) {
	e := startSockd(t, testUnits)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(e.rt, control.SocketName))
	}}}
	resp, err := client.Get("http://sockd/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics without --metrics: %s; want 404", resp.Status)
	}
}
