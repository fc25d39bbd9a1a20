package units

import (
	"fmt"
	"strconv"
	"strings"
)

// Resources holds the systemd.resource-control(5) settings sockd applies
// through the service's own cgroup (internal/cgroup).
type Resources struct {
	TasksMax   Limit // TasksMax=: pids.max
	MemoryMax  Limit // MemoryMax=: memory.max (v1: memory.limit_in_bytes)
	MemoryHigh Limit // MemoryHigh=: memory.high (v2 only)
	MemoryLow  Limit // MemoryLow=: memory.low (v2 only)
	// CPUQuota is CPUQuota= in percent of one CPU; 0 is unset.
	CPUQuota  int
	CPUWeight int  // CPUWeight= (1…10000); 0 is unset
	IOWeight  int  // IOWeight= (1…10000); 0 is unset
	Delegate  bool // Delegate=: the service may manage its cgroup's subtree
}

// Limit is a resource limit: unset, a value, a percentage of the
// machine's total, or infinity.
type Limit struct {
	Set      bool
	Value    uint64 // bytes or tasks, when not Percent and not Infinity
	Percent  float64
	Infinity bool
}

// Resolve returns the limit for a machine whose total is total, and
// false for infinity.
func (l Limit) Resolve(total uint64) (uint64, bool) {
	switch {
	case l.Infinity:
		return 0, false
	case l.Percent > 0:
		return uint64(float64(total) * l.Percent / 100), true
	}
	return l.Value, true
}

// parseLimit parses "N" (a size with K, M, G… when sized), "N%" or
// "infinity".
func parseLimit(v string, sized bool) (Limit, error) {
	if v == "infinity" {
		return Limit{Set: true, Infinity: true}, nil
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 {
			return Limit{}, fmt.Errorf("invalid percentage %q", v)
		}
		return Limit{Set: true, Percent: f}, nil
	}
	if !sized {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return Limit{}, fmt.Errorf("invalid value %q, want a number, a percentage or infinity", v)
		}
		return Limit{Set: true, Value: n}, nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return Limit{}, err
	}
	return Limit{Set: true, Value: uint64(n)}, nil
}

func res[T any](name string, kind ValueKind, get func(r *Resources) *T, set func(func(u *Unit) *T) setter) directive {
	return svc(name, kind, func(s *Service) *T { return get(&s.Resources) }, set)
}

func limitSet(sized bool) func(func(*Unit) *Limit) setter {
	return func(g func(*Unit) *Limit) setter {
		return func(u *Unit, v string) error {
			l, err := parseLimit(v, sized)
			if err != nil {
				return err
			}
			*g(u) = l
			return nil
		}
	}
}

func resourceDirectives() []directive {
	return []directive{
		res("TasksMax", KindString, func(r *Resources) *Limit { return &r.TasksMax }, limitSet(false)),
		res("MemoryMax", KindSize, func(r *Resources) *Limit { return &r.MemoryMax }, limitSet(true)),
		res("MemoryHigh", KindSize, func(r *Resources) *Limit { return &r.MemoryHigh }, limitSet(true)),
		res("MemoryLow", KindSize, func(r *Resources) *Limit { return &r.MemoryLow }, limitSet(true)),
		res("CPUQuota", KindString, func(r *Resources) *int { return &r.CPUQuota }, func(g func(*Unit) *int) setter {
			return func(u *Unit, v string) error {
				p, ok := strings.CutSuffix(v, "%")
				n, err := strconv.Atoi(p)
				if !ok || err != nil || n <= 0 {
					return fmt.Errorf("invalid CPU quota %q, want a percentage above 0%%", v)
				}
				*g(u) = n
				return nil
			}
		}),
		res("CPUWeight", KindInt, func(r *Resources) *int { return &r.CPUWeight }, intSet(1, 10000)),
		res("IOWeight", KindInt, func(r *Resources) *int { return &r.IOWeight }, intSet(1, 10000)),
		res("Delegate", KindBool, func(r *Resources) *bool { return &r.Delegate }, boolSet),
	}
}

// Any reports whether the service sets a resource control directive.
func (r *Resources) Any() bool {
	return r.TasksMax.Set || r.MemoryMax.Set || r.MemoryHigh.Set || r.MemoryLow.Set ||
		r.CPUQuota > 0 || r.CPUWeight > 0 || r.IOWeight > 0 || r.Delegate
}
