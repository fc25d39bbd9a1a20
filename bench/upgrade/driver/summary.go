package main

import (
	"fmt"
	"slices"
	"time"
)

// summary collects the headline figures of every phase, printed last
// with the goals next to them.
type summary struct {
	rows [][4]string // measurement, figure, goal, verdict
}

func (s *summary) add(what, figure, goal, verdict string) {
	s.rows = append(s.rows, [4]string{what, figure, goal, verdict})
}

func (s *summary) print() {
	if len(s.rows) == 0 {
		return
	}
	fmt.Println("## Summary")
	fmt.Println()
	fmt.Println("| measurement | figure | goal | |")
	fmt.Println("|---|---:|---|---|")
	for _, r := range s.rows {
		fmt.Printf("| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
	fmt.Println()
}

// verdict says whether v is under goal.
func verdict(v, goal time.Duration) string {
	if v < goal {
		return "met"
	}
	return fmt.Sprintf("**missed** (×%.1f)", float64(v)/float64(goal))
}

// median returns the median of ds (the upper one of an even count) and
// the largest.
func median(ds []time.Duration) (med, worst time.Duration) {
	if len(ds) == 0 {
		return -1, -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

// handoffRow adds the Go benchmark's figures (BenchmarkHandoff10000),
// given by run.sh as "AVG_MS,FIRST_MS".
func (s *summary) handoffRow(v string) {
	var avg, first float64
	if _, err := fmt.Sscanf(v, "%g,%g", &avg, &first); err != nil {
		progress("-handoff %q: %v", v, err)
		return
	}
	d := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	s.add("hand over 10,000 listeners over handoff.sock (Go benchmark, handoff/): repeated", fmt.Sprintf("%.1f ms", avg), "< 50 ms", verdict(d(avg), handoverGoal))
	s.add("… the first handoff into a fresh process (what an upgrade's check child does)", fmt.Sprintf("%.1f ms", first), "< 50 ms", verdict(d(first), handoverGoal))
}
