// Command sockbench compares sockd's activation latency with
// systemd-socket-activate's and measures sockd with many units (start-up
// time, resident memory, idle wake-ups). bench/run.sh builds it and the
// binaries it runs; see bench/README.md.
//
// Usage:
//
//	sockbench -sockd BIN -tinysvc BIN [-tinysvc-c BIN] [flags] [activation] [scale]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sockd/sockd/bench/internal/harness"
)

type config struct {
	sockd, tinysvc, tinysvcC, ssa, perf string
	sockdAlt, sockdAltLabel             string
	shims                               []variant
	samples, warmup, breakdown          int
	settle                              time.Duration
	sizes                               []int
	format                              string
	listen                              string
	portBase, runs                      int
	idle, idleSettle                    time.Duration
	nofile                              string
	workdir                             string
	keep                                bool
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.sockd, "sockd", "", "sockd binary (required)")
	flag.StringVar(&c.sockdAlt, "sockd-alt", "", "a second sockd binary to compare in the activation runs (e.g. built with CGO_ENABLED=0)")
	flag.StringVar(&c.sockdAltLabel, "sockd-alt-label", "sockd (alt)", "label of -sockd-alt")
	var shims string
	flag.StringVar(&shims, "shims", "", "yardstick shims for the exec-cost table, as LABEL=PATH,… (each run as PATH /bin/true; see bench/testdata/minishim)")
	flag.StringVar(&c.tinysvc, "tinysvc", "", "bench/tinysvc binary (required)")
	flag.StringVar(&c.tinysvcC, "tinysvc-c", "", "bench/testdata/tinysvc.c binary (optional: activation with a C service too)")
	flag.StringVar(&c.ssa, "ssa", harness.SSABin, "systemd-socket-activate binary")
	flag.StringVar(&c.perf, "perf", "perf", "perf binary for the latency breakdown (\"\" to skip it)")
	flag.IntVar(&c.samples, "samples", 200, "activation samples per manager and service")
	flag.IntVar(&c.warmup, "warmup", 10, "activation samples dropped first")
	flag.IntVar(&c.breakdown, "breakdown", 60, "activation samples per manager recorded with perf for the breakdown (0 skips it)")
	flag.DurationVar(&c.settle, "settle", 10*time.Millisecond, "pause between a manager being ready and the connection")
	flag.StringVar(&sizes, "units", "1000,10000", "unit counts for the scale runs")
	flag.StringVar(&c.format, "format", "toml", "unit format for the scale runs: toml or systemd")
	flag.StringVar(&c.listen, "listen", "tcp", "listeners for the scale runs: tcp (127.0.0.1, ports from -port-base) or unix")
	flag.IntVar(&c.portBase, "port-base", 20000, "first TCP port of the scale runs (below the ephemeral range)")
	flag.IntVar(&c.runs, "runs", 3, "sockd start-ups per scale size")
	flag.DurationVar(&c.idle, "idle", 10*time.Second, "idle period over which wake-ups are counted")
	flag.DurationVar(&c.idleSettle, "idle-settle", 3*time.Second, "pause between \"sockd ready\" and the idle period (the Go runtime's background scavenger takes its last start-up step about 1 s after ready)")
	flag.StringVar(&c.nofile, "nofile", "", "run sockd under prlimit --nofile=SOFT:HARD in the scale runs (e.g. 1024:524288, systemd's default)")
	flag.StringVar(&c.workdir, "workdir", "", "working directory (default: a new temporary one)")
	flag.BoolVar(&c.keep, "keep", false, "keep the working directory")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			c.sizes = append(c.sizes, n)
		}
	}
	for _, kv := range strings.Split(shims, ",") {
		if label, path, ok := strings.Cut(kv, "="); ok {
			c.shims = append(c.shims, variant{label, path})
		}
	}
	what := flag.Args()
	if len(what) == 0 {
		what = []string{"activation", "scale"}
	}
	if c.sockd == "" || c.tinysvc == "" {
		fmt.Fprintln(os.Stderr, "sockbench: -sockd and -tinysvc are required")
		os.Exit(2)
	}
	for _, p := range []*string{&c.sockd, &c.sockdAlt, &c.tinysvc, &c.tinysvcC} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				fatal(err)
			}
			*p = abs
		}
	}
	if c.workdir == "" {
		d, err := os.MkdirTemp("", "sockbench-")
		if err != nil {
			fatal(err)
		}
		c.workdir = d
	}
	if !c.keep {
		defer os.RemoveAll(c.workdir)
	}
	fmt.Printf("sockbench: %d CPUs, load %s, work dir %s\n\n", numCPU(), loadavg(), c.workdir)
	for _, w := range what {
		var err error
		switch w {
		case "activation":
			err = activation(c)
		case "scale":
			err = scale(c)
		default:
			err = fmt.Errorf("unknown benchmark %q (want activation or scale)", w)
		}
		if err != nil {
			if !c.keep {
				os.RemoveAll(c.workdir)
			}
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "sockbench:", err)
	os.Exit(1)
}

// variant is one sockd binary under test.
type variant struct{ label, bin string }

func (c config) variants() []variant {
	vs := []variant{{"sockd", c.sockd}}
	if c.sockdAlt != "" {
		vs = append(vs, variant{c.sockdAltLabel, c.sockdAlt})
	}
	return vs
}

// activation compares sockd with systemd-socket-activate for each
// service, then splits the latency into phases with perf.
func activation(c config) error {
	if _, err := os.Stat(c.ssa); err != nil {
		return fmt.Errorf("systemd-socket-activate: %w (apt-get install systemd)", err)
	}
	services := []struct{ name, path string }{{"go", c.tinysvc}}
	if c.tinysvcC != "" {
		services = append(services, struct{ name, path string }{"c", c.tinysvcC})
	}
	vs := c.variants()
	fmt.Printf("== activation latency: connect(2) → first response byte, loopback TCP\n")
	fmt.Printf("   %d samples per row after %d warm-up; the managers take turns, sample by sample\n\n", c.samples, c.warmup)
	fmt.Printf("%-8s %-24s %10s %10s %10s %10s\n", "service", "manager", "median", "p90", "min", "to main")
	type ratio struct {
		svc, label  string
		median, p90 float64
		extra       time.Duration
	}
	var ratios []ratio
	for _, svc := range services {
		var ms []harness.Manager
		var names []string
		for _, v := range vs {
			m, err := harness.StartSockdManager(v.bin, svc.path, filepath.Join(c.workdir, "act-"+svc.name+"-"+v.label))
			if err != nil {
				closeAll(ms)
				return err
			}
			ms, names = append(ms, m), append(names, v.label)
		}
		ms = append(ms, harness.NewSSAManager(c.ssa, svc.path, filepath.Join(c.workdir, "act-"+svc.name+"-ssa")))
		names = append(names, "systemd-socket-activate")
		res, err := harness.Interleave(ms, c.warmup, c.samples, c.settle, nil)
		closeAll(ms)
		if err != nil {
			return err
		}
		lat := make([]harness.Summary, len(ms))
		for i := range ms {
			lat[i] = harness.Summarize(harness.Latencies(res[i], harness.Sample.Latency))
			main := harness.Summarize(harness.Latencies(res[i], harness.Sample.ToMain))
			fmt.Printf("%-8s %-24s %10s %10s %10s %10s\n", svc.name, names[i], harness.Ms(lat[i].Median), harness.Ms(lat[i].P90), harness.Ms(lat[i].Min), harness.Ms(main.Median))
		}
		ssa := lat[len(lat)-1]
		for i := range vs {
			ratios = append(ratios, ratio{svc.name, names[i], harness.Ratio(lat[i].Median, ssa.Median), harness.Ratio(lat[i].P90, ssa.P90), lat[i].Median - ssa.Median})
		}
	}
	fmt.Printf("\n%-8s %-24s %12s %12s %12s   (÷ systemd-socket-activate; goal ≤ 1.0)\n", "service", "manager", "ratio median", "ratio p90", "extra median")
	for _, r := range ratios {
		fmt.Printf("%-8s %-24s %12.2f %12.2f %12s\n", r.svc, r.label, r.median, r.p90, harness.Ms(r.extra))
	}
	fmt.Println()
	if err := startupCosts(c); err != nil {
		return err
	}
	if c.breakdown > 0 && c.perf != "" {
		if !harness.PerfAvailable(c.perf) {
			fmt.Printf("(perf with sched tracepoints is not available: no breakdown)\n\n")
			return nil
		}
		for _, svc := range services {
			if err := breakdown(c, svc.name, svc.path); err != nil {
				return err
			}
		}
	}
	return nil
}

func closeAll(ms []harness.Manager) {
	for _, m := range ms {
		m.Close()
	}
}

// startupCosts times fork+exec+exit of the binaries involved, started by
// this process, and sockd's spawn shim on its own (exec'ing /bin/true).
func startupCosts(c config) error {
	bins := []harness.Command{{Name: "/bin/true", Argv: []string{"/bin/true"}}}
	if c.tinysvcC != "" {
		bins = append(bins, harness.Command{Name: "tinysvc-c (no fds: exits)", Argv: []string{c.tinysvcC}})
	}
	bins = append(bins, harness.Command{Name: "tinysvc (no fds: exits)", Argv: []string{c.tinysvc}})
	for _, v := range c.variants() {
		bins = append(bins,
			harness.Command{Name: v.label + " --bad-flag (exits)", Argv: []string{v.bin, "--bad-flag"}},
			harness.ShimCommand(v.label+" shim → /bin/true", v.bin, "/bin/true"))
	}
	for _, sh := range c.shims {
		bins = append(bins, harness.Command{Name: sh.label + " → /bin/true", Argv: []string{sh.bin, "/bin/true"}})
	}
	const n = 100
	fmt.Printf("== exec cost: fork+exec+exit+wait from a Go parent, %d runs each, taking turns\n\n", n)
	sums, err := harness.ExecCosts(bins, 5, n)
	if err != nil {
		return err
	}
	fmt.Printf("%-40s %10s %10s %12s\n", "command", "median", "p90", "− /bin/true")
	for i, b := range bins {
		fmt.Printf("%-40s %10s %10s %12s\n", b.Name, harness.Ms(sums[i].Median), harness.Ms(sums[i].P90), harness.Ms(sums[i].Median-sums[0].Median))
	}
	fmt.Println()
	return nil
}

// breakdown records fork and exec tracepoints with perf during
// c.breakdown interleaved samples and prints the median of each phase.
func breakdown(c config, svcName, svcPath string) error {
	dir := filepath.Join(c.workdir, "breakdown-"+svcName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m, err := harness.StartSockdManager(c.sockd, svcPath, dir)
	if err != nil {
		return err
	}
	ssa := harness.NewSSAManager(c.ssa, svcPath, dir)
	p, err := harness.StartPerf(c.perf, dir)
	if err != nil {
		m.Close()
		fmt.Printf("(no breakdown: perf record failed: %v)\n\n", err)
		return nil
	}
	res, err := harness.Interleave([]harness.Manager{m, ssa}, 5, c.breakdown, c.settle, nil)
	m.Close()
	ssa.Close()
	evs, perr := p.Stop(c.perf)
	if err != nil {
		return err
	}
	if perr != nil {
		fmt.Printf("(no breakdown: %v)\n\n", perr)
		return nil
	}
	split := func(ss []harness.Sample) ([]harness.Phases, int) {
		var out []harness.Phases
		missed := 0
		for _, s := range ss {
			ph, err := harness.SplitPhases(evs, s, svcPath)
			if err != nil {
				missed++
				continue
			}
			out = append(out, ph)
		}
		return out, missed
	}
	med := func(phs []harness.Phases, f func(harness.Phases) time.Duration) string {
		ds := make([]time.Duration, len(phs))
		for i, ph := range phs {
			ds[i] = f(ph)
		}
		return harness.Ms(harness.Summarize(ds).Median)
	}
	sp, sm := split(res[0])
	ap, am := split(res[1])
	fmt.Printf("== breakdown (%s service), perf sched tracepoints, medians of %d/%d samples (perf running)\n\n", svcName, len(sp), len(ap))
	if sm+am > 0 {
		fmt.Printf("   (%d samples without matching events left out)\n", sm+am)
	}
	fmt.Printf("%-52s %12s %12s\n", "phase", "sockd", "ssa")
	fmt.Printf("%-52s %12s %12s\n", "connect → fork of the shim (manager reacts)", med(sp, func(p harness.Phases) time.Duration { return p.ToFork }), "-")
	fmt.Printf("%-52s %12s %12s\n", "fork → exec of the shim done (/proc/self/exe)", med(sp, func(p harness.Phases) time.Duration { return p.ForkExec }), "-")
	fmt.Printf("%-52s %12s %12s\n", "shim exec done → service exec done (shim runs)", med(sp, func(p harness.Phases) time.Duration { return p.Shim }), "-")
	fmt.Printf("%-52s %12s %12s\n", "connect → service exec done", med(sp, func(p harness.Phases) time.Duration { return p.ToExec }), med(ap, func(p harness.Phases) time.Duration { return p.ToExec }))
	fmt.Printf("%-52s %12s %12s\n", "service exec done → service main (runtime start)", med(sp, func(p harness.Phases) time.Duration { return p.SvcInit }), med(ap, func(p harness.Phases) time.Duration { return p.SvcInit }))
	fmt.Printf("%-52s %12s %12s\n", "service main → first byte at the client", med(sp, func(p harness.Phases) time.Duration { return p.SvcServe }), med(ap, func(p harness.Phases) time.Duration { return p.SvcServe }))
	fmt.Printf("%-52s %12s %12s\n\n", "total (connect → first byte)", med(sp, func(p harness.Phases) time.Duration { return p.Total }), med(ap, func(p harness.Phases) time.Duration { return p.Total }))
	return nil
}

// scale runs sockd with each unit count.
func scale(c config) error {
	var prefix []string
	if c.nofile != "" {
		prefix = []string{"prlimit", "--nofile=" + c.nofile, "--"}
	}
	fmt.Printf("== scale: sockd with N units (%s format, %s listeners), %d start-ups each, idle %s from ready+%s", c.format, c.listen, c.runs, c.idle, c.idleSettle)
	if c.nofile != "" {
		fmt.Printf(", RLIMIT_NOFILE %s", c.nofile)
	}
	fmt.Printf("\n\n")
	fmt.Printf("%7s %14s %14s %10s %10s %10s %8s %11s %12s\n", "units", "startup med", "startup max", "CPU med", "RSS ready", "RSS idle", "threads", "wake-ups/s", "stop med")
	var results []*harness.ScaleResult
	for _, n := range c.sizes {
		{
			r, err := harness.RunScale(harness.ScaleConfig{
				Sockd: c.sockd, Service: c.tinysvc, N: n,
				Format: harness.Format(c.format), Listen: harness.Listen(c.listen), PortBase: c.portBase,
				Runs: c.runs, Idle: c.idle, Settle: c.idleSettle, Prefix: prefix,
				Dir: filepath.Join(c.workdir, fmt.Sprintf("scale-%d", n)),
			})
			if err != nil {
				return err
			}
			if r.Ready != n {
				return fmt.Errorf("%d units: sockd is ready with %d", n, r.Ready)
			}
			results = append(results, r)
			st, cpu, stop := harness.Summarize(r.Startups), harness.Summarize(r.CPU), harness.Summarize(r.Stops)
			fmt.Printf("%7d %14s %14s %10s %7.1f MB %7.1f MB %8d %11.2f %12s\n", n, harness.Ms(st.Median), harness.Ms(st.Max), harness.Ms(cpu.Median),
				float64(r.AtReady.RSSkB)/1024, float64(r.AfterIdle.RSSkB)/1024, r.AfterIdle.Threads, r.WakeupsPerSec(), harness.Ms(stop.Median))
		}
	}
	fmt.Printf("\ngoals for 10,000 units: startup < 500 ms, RSS < 50 MB, 0 wake-ups/s\n")
	for _, r := range results {
		st := harness.Summarize(r.Startups)
		fmt.Printf("%6d units: startup/0.5s = %.2f, RSS/50MB = %.2f, wake-ups/s = %.2f", r.Config.N,
			harness.Ratio(st.Median, 500*time.Millisecond), float64(r.AfterIdle.RSSkB)/(50*1024), r.WakeupsPerSec())
		if r.Switches > 0 {
			tids := make([]int, 0, len(r.PerThread))
			for t := range r.PerThread {
				tids = append(tids, t)
			}
			sort.Ints(tids)
			var parts []string
			for _, t := range tids {
				parts = append(parts, fmt.Sprintf("tid %d: %d", t, r.PerThread[t]))
			}
			fmt.Printf(" (%s)", strings.Join(parts, ", "))
		}
		fmt.Println()
	}
	fmt.Println()
	return nil
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
