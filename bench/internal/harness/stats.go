package harness

import (
	"fmt"
	"slices"
	"time"
)

// Summary describes a set of durations.
type Summary struct {
	N                int
	Min, Median, P90 time.Duration
	Max, Mean        time.Duration
}

// Summarize returns the summary of ds (nearest-rank percentiles).
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{
		N: len(s), Min: s[0], Max: s[len(s)-1],
		Median: Percentile(s, 50), P90: Percentile(s, 90),
		Mean: sum / time.Duration(len(s)),
	}
}

// Percentile returns the p-th percentile (nearest rank) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// Ratio returns a/b, or 0 if b is 0.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Ms formats d in milliseconds with three decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
