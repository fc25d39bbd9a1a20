package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/sockd/sockd/internal/loadgen"
)

// spikeGoal is the goal for the p99 spike during an upgrade.
const spikeGoal = 5 * time.Millisecond

// windows are the event windows of r (each event from c.window before
// its start to c.window after its end) and quiet windows of the same
// median length, away from the events: back to back in the steady state,
// and one in the middle of each gap between events.
func (r *loadRun) windows(c config) (events, quiet []span) {
	var lens []time.Duration
	for _, e := range r.events {
		w := span{e.start.Add(-c.window), e.end.Add(c.window)}
		events = append(events, w)
		lens = append(lens, w.end.Sub(w.start))
	}
	slices.Sort(lens)
	l := lens[len(lens)/2]
	for t := r.steady.start; !t.Add(l).After(r.steady.end); t = t.Add(l) {
		quiet = append(quiet, span{t, t.Add(l)})
	}
	end := r.res.Start.Add(r.res.Elapsed - 200*time.Millisecond)
	for i, e := range events {
		next := end
		if i+1 < len(events) {
			next = events[i+1].start
		}
		if free := next.Sub(e.end); free >= l {
			mid := e.end.Add(free / 2)
			quiet = append(quiet, span{mid.Add(-l / 2), mid.Add(l / 2)})
		}
	}
	return events, quiet
}

// agg summarises several windows: the medians and the worst.
type agg struct {
	n, count, failed       int
	p50, p99, worstP99, mx time.Duration
}

func aggregate(ss []loadgen.Stats) agg {
	a := agg{n: len(ss)}
	var p50s, p99s []time.Duration
	for _, s := range ss {
		a.count += s.Count
		a.failed += s.Failed
		p50s, p99s = append(p50s, s.P50), append(p99s, s.P99)
		a.worstP99, a.mx = max(a.worstP99, s.P99), max(a.mx, s.Max)
	}
	if len(ss) > 0 {
		slices.Sort(p50s)
		slices.Sort(p99s)
		a.p50, a.p99 = p50s[len(p50s)/2], p99s[len(p99s)/2]
	}
	return a
}

func (r *loadRun) stats(ws []span) []loadgen.Stats {
	var out []loadgen.Stats
	for _, w := range ws {
		out = append(out, r.res.Between(w.start, w.end))
	}
	return out
}

// printLatency prints the latency of r's steady state, quiet windows and
// event windows.
func (r *loadRun) printLatency(c config, sum *summary) {
	events, quiet := r.windows(c)
	steady := r.res.Between(r.steady.start, r.steady.end)
	ev, qu := r.stats(events), r.stats(quiet)
	ea, qa := aggregate(ev), aggregate(qu)
	fmt.Printf("### %s: latency (ms) of the requests that started in each window\n\n", r.m.name())
	fmt.Println("| window | requests OK | failed | p50 | p99 | max | slowest started at |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| steady state (%.1f s before the first of the %s) | %d | %d | %s | %s | %s | |\n",
		r.steady.end.Sub(r.steady.start).Seconds(), r.m.verb(), steady.Count, steady.Failed, ms(steady.P50), ms(steady.P99), ms(steady.Max))
	fmt.Printf("| %d quiet windows of %s ms (median p50, median / worst p99, worst max) | %d | %d | %s | %s / %s | %s | |\n",
		qa.n, ms(quiet[0].end.Sub(quiet[0].start)), qa.count, qa.failed, ms(qa.p50), ms(qa.p99), ms(qa.worstP99), ms(qa.mx))
	fmt.Printf("| %d %s ± %s ms (the same) | %d | %d | %s | %s / %s | %s | |\n",
		ea.n, r.m.verb(), ms(c.window), ea.count, ea.failed, ms(ea.p50), ms(ea.p99), ms(ea.worstP99), ms(ea.mx))
	for i, s := range ev {
		e := r.events[i]
		fmt.Printf("| %d: %s ms long, ± %s ms | %d | %d | %s | %s | %s | %s |\n",
			i+1, ms(e.end.Sub(e.start)), ms(c.window), s.Count, s.Failed, ms(s.P50), ms(s.P99), ms(s.Max), r.slowest(events[i], e.start))
	}
	fmt.Println()
	if qa.p99 > 0 && steady.P99 > 0 {
		judged := spikeVerdict(ea.p99-qa.p99, ea.worstP99-qa.p99)
		fmt.Printf("p99 around the %s: median %s ms, worst %s ms; quiet windows: median %s ms (steady state %s ms). "+
			"Worst ÷ quiet median = %.2f, spike = +%s ms (goal: spike < %s ms: %s).\n",
			r.m.verb(), ms(ea.p99), ms(ea.worstP99), ms(qa.p99), ms(steady.P99),
			float64(ea.worstP99)/float64(qa.p99), ms(max(ea.worstP99-qa.p99, 0)), ms(spikeGoal), judged)
		sum.add(fmt.Sprintf("%s: p99 ± %s ms around the %s, median / worst (quiet windows: median %s ms)", r.m.name(), ms(c.window), r.m.verb(), ms(qa.p99)),
			fmt.Sprintf("%s / %s ms", ms(ea.p99), ms(ea.worstP99)), "spike < 5 ms",
			fmt.Sprintf("spike +%s / +%s ms: %s", ms(max(ea.p99-qa.p99, 0)), ms(max(ea.worstP99-qa.p99, 0)), judged))
	}
	if sm, ok := r.m.(*sockdManager); ok {
		same := "the same process: never restarted"
		if servicePID(r.before) != servicePID(r.after) {
			same = "⚠ a different process: the service was restarted"
		}
		fmt.Printf("Service pid before the load %s, after it %s (%s).\n\n", servicePID(r.before), servicePID(r.after), same)
		printPhaseTable("Phases of each upgrade from sockd's log (ms):", sm.upgrades)
	}
	fmt.Println()
}

// slowest says when the slowest request of window w started, in ms
// from the event's start at t (to 5 ms).
func (r *loadRun) slowest(w span, t time.Time) string {
	const bin = 5 * time.Millisecond
	var worst time.Duration
	var at time.Time
	for b := w.start; b.Before(w.end); b = b.Add(bin) {
		if s := r.res.Between(b, b.Add(bin)); s.Max > worst {
			worst, at = s.Max, b
		}
	}
	if at.IsZero() {
		return "–"
	}
	return fmt.Sprintf("%+.0f ms", float64(at.Sub(t))/float64(time.Millisecond))
}

// printSideBySide prints the failures and latency of every run.
func printSideBySide(runs []*loadRun, sum *summary) {
	fmt.Println("### Side by side: the whole run of each (steady state and every restart or upgrade)")
	fmt.Println()
	fmt.Println("| manager | restarts or upgrades | each takes (median, ms) | requests | refused | reset | other failures | p50 ms | p99 ms | max ms |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range runs {
		var took []time.Duration
		for _, e := range r.events {
			took = append(took, e.end.Sub(e.start))
		}
		slices.Sort(took)
		res := r.res
		sum.add(fmt.Sprintf("%s: failed requests in %d %s (refused, reset, other)", r.m.name(), len(r.events), r.m.verb()),
			fmt.Sprintf("%d (%d, %d, %d) of %d", res.Failures(), res.Refused, res.Reset, res.Timeout+res.Wrong+res.Other, res.OK+res.Failures()), "", "")
		fmt.Printf("| %s | %d | %s | %d | %d | %d | %d | %s | %s | %s |\n", r.m.name(), len(r.events), ms(took[len(took)/2]),
			res.OK+res.Failures(), res.Refused, res.Reset, res.Timeout+res.Wrong+res.Other,
			ms(res.Latency.P50), ms(res.Latency.P99), ms(res.Latency.Max))
	}
	fmt.Println()
	for _, r := range runs {
		for class, msgs := range r.res.Errors {
			if len(msgs) > 0 {
				fmt.Printf("%s, first %s: %s\n", r.m.name(), class, msgs[0])
			}
		}
	}
	fmt.Println()
}

// spikeVerdict judges the median and the worst p99 spike against the
// goal.
func spikeVerdict(median, worst time.Duration) string {
	switch {
	case worst < spikeGoal:
		return "met"
	case median < spikeGoal:
		return "met by the median, **missed** by the worst"
	}
	return "**missed**"
}
