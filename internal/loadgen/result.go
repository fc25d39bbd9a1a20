package loadgen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Result is the outcome of a Run. The counts are exact; Latency and
// Window are computed from the samples kept (see Config.MaxSamples).
type Result struct {
	Start   time.Time     // when the workers started
	Elapsed time.Duration // from Start until the last request ended

	OK                int // requests answered 200 with Want in the body
	NewConnRequests   int // requests of new-connection workers, whatever their outcome
	KeepAliveRequests int // requests of keep-alive workers, whatever their outcome
	NewConnDials      int // connections the new-connection workers opened
	KeepAliveDials    int // connections the keep-alive workers opened
	Canceled          int // requests cut short by the caller's ctx: not failures

	// Failures by class; Failures() is their sum.
	Refused int // connect(2) refused (ECONNREFUSED)
	Reset   int // connection reset, broken pipe, or closed before the whole answer
	Timeout int // no whole answer within Config.Timeout
	Wrong   int // status other than 200, or a body without Config.Want
	Other   int // any other error

	// Errors has the first few messages of each failure class, keyed
	// "refused", "reset", "timeout", "wrong" and "other"; each says
	// when its request started, as an offset from Start.
	Errors map[string][]string

	Latency Stats // of every request kept, from Start to the end
	Dropped int   // requests not kept as samples, beyond MaxSamples

	samples []sample // sorted by start
}

// sample is one request: when it started, as an offset from Result.Start,
// how long it took, and whether it failed.
type sample struct {
	at, latency time.Duration
	failed      bool
}

// Stats summarises the requests of a span of time: how many were OK and
// how many failed, and the latency of the OK ones (the nearest-rank
// percentiles of the samples).
type Stats struct {
	Count  int // OK requests
	Failed int // failed requests
	P50    time.Duration
	P99    time.Duration
	Max    time.Duration
}

// Failures returns how many requests failed, all classes together.
func (r *Result) Failures() int { return r.Refused + r.Reset + r.Timeout + r.Wrong + r.Other }

// Window returns the Stats of the requests that started from from
// (included) to to (excluded), offsets from Start. Requests beyond
// MaxSamples are not in any window.
func (r *Result) Window(from, to time.Duration) Stats {
	lo := sort.Search(len(r.samples), func(i int) bool { return r.samples[i].at >= from })
	hi := sort.Search(len(r.samples), func(i int) bool { return r.samples[i].at >= to })
	return stats(r.samples[lo:max(lo, hi)])
}

// Between is Window for the requests that started from from to to, two
// readings of time.Now: a test notes the time before and after it
// upgrades a service and asks for the requests in between.
func (r *Result) Between(from, to time.Time) Stats {
	return r.Window(from.Sub(r.Start), to.Sub(r.Start))
}

// stats computes the Stats of samples.
func stats(samples []sample) Stats {
	var st Stats
	lat := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		if s.failed {
			st.Failed++
			continue
		}
		lat = append(lat, s.latency)
	}
	slices.Sort(lat)
	st.Count = len(lat)
	if st.Count > 0 {
		st.P50, st.P99, st.Max = rank(lat, 0.50), rank(lat, 0.99), lat[len(lat)-1]
	}
	return st
}

// rank returns the nearest-rank q-quantile of sorted.
func rank(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// result merges the workers' tallies.
func (r *run) result(workers []*worker) *Result {
	res := &Result{Start: r.start, Elapsed: time.Since(r.start), Errors: map[string][]string{}}
	counts := [numClasses]*int{&res.Refused, &res.Reset, &res.Timeout, &res.Wrong, &res.Other}
	for _, w := range workers {
		res.OK += w.ok
		res.Canceled += w.canceled
		res.NewConnRequests += w.newConnRequests
		res.KeepAliveRequests += w.keepAliveRequests
		if w.keepAlive {
			res.KeepAliveDials += int(w.dials.Load())
		} else {
			res.NewConnDials += int(w.dials.Load())
		}
		for c := range numClasses {
			*counts[c] += w.failed[c]
			if room := maxMessages - len(res.Errors[c.String()]); room > 0 && len(w.messages[c]) > 0 {
				res.Errors[c.String()] = append(res.Errors[c.String()], w.messages[c][:min(room, len(w.messages[c]))]...)
			}
		}
		res.samples = append(res.samples, w.samples...)
		res.Dropped += w.dropped
	}
	slices.SortFunc(res.samples, func(a, b sample) int { return cmp.Compare(a.at, b.at) })
	res.Latency = stats(res.samples)
	return res
}

// Summary is the JSON form of a Result, durations in milliseconds.
type Summary struct {
	OK                int                 `json:"ok"`
	Failures          int                 `json:"failures"`
	NewConnRequests   int                 `json:"new_conn_requests"`
	KeepAliveRequests int                 `json:"keepalive_requests"`
	NewConnDials      int                 `json:"new_conn_dials"`
	KeepAliveDials    int                 `json:"keepalive_dials"`
	Refused           int                 `json:"refused"`
	Reset             int                 `json:"reset"`
	Timeout           int                 `json:"timeout"`
	Wrong             int                 `json:"wrong"`
	Other             int                 `json:"other"`
	Canceled          int                 `json:"canceled"`
	ElapsedMS         float64             `json:"elapsed_ms"`
	P50MS             float64             `json:"p50_ms"`
	P99MS             float64             `json:"p99_ms"`
	MaxMS             float64             `json:"max_ms"`
	Dropped           int                 `json:"dropped_samples,omitempty"`
	Errors            map[string][]string `json:"errors,omitempty"`
}

// Summary returns the counts and overall latency of r.
func (r *Result) Summary() Summary {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Summary{
		OK: r.OK, Failures: r.Failures(),
		NewConnRequests: r.NewConnRequests, KeepAliveRequests: r.KeepAliveRequests,
		NewConnDials: r.NewConnDials, KeepAliveDials: r.KeepAliveDials,
		Refused: r.Refused, Reset: r.Reset, Timeout: r.Timeout, Wrong: r.Wrong, Other: r.Other,
		Canceled: r.Canceled, ElapsedMS: ms(r.Elapsed),
		P50MS: ms(r.Latency.P50), P99MS: ms(r.Latency.P99), MaxMS: ms(r.Latency.Max),
		Dropped: r.Dropped, Errors: r.Errors,
	}
}

// MarshalJSON encodes r as its Summary.
func (r *Result) MarshalJSON() ([]byte, error) { return json.Marshal(r.Summary()) }

// String returns the counts and latencies on one line, and the first
// error message of each failure class.
func (r *Result) String() string {
	s := fmt.Sprintf("ok=%d failures=%d (refused=%d reset=%d timeout=%d wrong=%d other=%d) canceled=%d"+
		" new-conn=%d (dials %d) keepalive=%d (dials %d) p50=%v p99=%v max=%v in %v",
		r.OK, r.Failures(), r.Refused, r.Reset, r.Timeout, r.Wrong, r.Other, r.Canceled,
		r.NewConnRequests, r.NewConnDials, r.KeepAliveRequests, r.KeepAliveDials,
		r.Latency.P50, r.Latency.P99, r.Latency.Max, r.Elapsed.Round(time.Millisecond))
	for c := range numClasses {
		if m := r.Errors[c.String()]; len(m) > 0 {
			s += fmt.Sprintf("; first %s: %s", c, m[0])
		}
	}
	return s
}
