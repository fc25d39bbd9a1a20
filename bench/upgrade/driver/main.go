// Command driver measures sockd's upgrades in place (sockctl upgrade):
// bench/upgrade/run.sh builds the binaries and runs it; see
// bench/upgrade/README.md.
//
// Usage:
//
//	driver -sockd BIN -sockd2 BIN -sockctl BIN -hello BIN [-ssa BIN] [flags] [scale] [load]
//
// scale runs sockd with -units listener units (10,000) and upgrades it
// -scale-upgrades times, alternating -sockd2 and -sockd, while a client
// connects in a loop to one unit whose every connection sockd serves by
// starting a process (-probe: an Accept=yes instance, or a one-shot
// service): it reports each upgrade's phases from sockd's log, the time
// until the new generation answers, and the longest a new connection
// waited.
//
// load runs examples/hello-http under a steady load from internal/loadgen,
// first under sockd upgraded -upgrades times, then under
// systemd-socket-activate restarted as many times, and reports the
// latency around each upgrade against the quiet windows, and the failed
// requests of both side by side.
//
// Everything runs on loopback; the whole run is bounded by -timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// config is what the flags say.
type config struct {
	sockd, sockd2, sockctl, hello, ssa string
	work                               string

	units, portBase, scaleUpgrades int
	probe, tinysvc                 string
	probeGap, scaleSettle          time.Duration

	upgrades         int
	conns, keepAlive int
	rate             float64
	steady, gap      time.Duration
	window           time.Duration

	handoff string
}

func main() {
	var c config
	flag.StringVar(&c.sockd, "sockd", "", "sockd binary, generation 1 (required)")
	flag.StringVar(&c.sockd2, "sockd2", "", "second sockd binary to upgrade to, alternating with -sockd (required)")
	flag.StringVar(&c.sockctl, "sockctl", "", "sockctl binary (required)")
	flag.StringVar(&c.hello, "hello", "", "examples/hello-http binary (required for load)")
	flag.StringVar(&c.ssa, "ssa", "/usr/bin/systemd-socket-activate", "systemd-socket-activate binary (\"\" leaves it out of load)")
	flag.StringVar(&c.work, "work", "", "work directory (default: a new temporary one, removed at the end)")
	flag.IntVar(&c.units, "units", 10000, "listener units for scale (lowered to fit the hard RLIMIT_NOFILE)")
	flag.IntVar(&c.portBase, "port-base", 0, "first TCP port of the scale units on 127.0.0.1 (0: the first free range from 10000 below the ephemeral range)")
	flag.IntVar(&c.scaleUpgrades, "scale-upgrades", 3, "upgrades in scale")
	flag.StringVar(&c.probe, "probe", "oneshot", "scale: the probe unit: oneshot (Accept=no, -tinysvc answers one connection and exits) or accept (Accept=yes, /bin/echo per connection)")
	flag.StringVar(&c.tinysvc, "tinysvc", "", "bench/tinysvc binary, for -probe oneshot")
	flag.DurationVar(&c.probeGap, "probe-gap", 2*time.Millisecond, "pause between two connections of the scale probe")
	flag.DurationVar(&c.scaleSettle, "scale-settle", time.Second, "quiet time before, between and after the scale upgrades")
	flag.IntVar(&c.upgrades, "upgrades", 5, "upgrades (and restarts of systemd-socket-activate) in load")
	flag.IntVar(&c.conns, "conns", 2, "load: new-connection workers")
	flag.IntVar(&c.keepAlive, "keepalive", 2, "load: keep-alive workers")
	flag.Float64Var(&c.rate, "rate", 200, "load: requests a second per worker")
	flag.DurationVar(&c.steady, "steady", 3*time.Second, "load: steady state before the first upgrade")
	flag.DurationVar(&c.gap, "gap", 1500*time.Millisecond, "load: time from one upgrade's start to the next")
	flag.DurationVar(&c.window, "window", 250*time.Millisecond, "load: an upgrade's window reaches this far before its start and after its end")
	flag.StringVar(&c.handoff, "handoff", "", "BenchmarkHandoff10000's ms/handoff and ms/first as \"AVG,FIRST\", for the summary (run.sh passes them)")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound of the whole run")
	flag.Parse()
	phases := flag.Args()
	if len(phases) == 0 {
		phases = []string{"scale", "load"}
	}
	for _, p := range phases {
		if p != "scale" && p != "load" {
			fatalf("unknown phase %q: want scale and/or load", p)
		}
	}
	if c.sockd == "" || c.sockd2 == "" || c.sockctl == "" || (slices.Contains(phases, "load") && c.hello == "") {
		fatalf("-sockd, -sockd2, -sockctl and (for load) -hello are required")
	}
	if c.upgrades < 1 || c.scaleUpgrades < 1 || c.units < 2 {
		fatalf("-upgrades and -scale-upgrades must be at least 1, -units at least 2")
	}
	for _, p := range []*string{&c.sockd, &c.sockd2, &c.sockctl, &c.hello, &c.tinysvc} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				fatalf("%v", err)
			}
			*p = abs
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	os.Exit(run(ctx, c, phases))
}

func run(ctx context.Context, c config, phases []string) int {
	if c.work == "" {
		dir, err := os.MkdirTemp("", "sockd-upgrade-bench.")
		if err != nil {
			fmt.Fprintln(os.Stderr, "driver:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		c.work = dir
	}
	var hard unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &hard)
	fmt.Printf("%s, %d CPUs, RLIMIT_NOFILE %d (hard %d), load average %s\n\n",
		time.Now().Format("2006-01-02 15:04 MST"), numCPU(), hard.Cur, hard.Max, loadAvg())
	status := 0
	var sum summary
	if c.handoff != "" {
		sum.handoffRow(c.handoff)
	}
	defer sum.print()
	for _, p := range phases {
		var err error
		switch p {
		case "scale":
			err = runScale(ctx, c, hard.Max, &sum)
		case "load":
			err = runLoad(ctx, c, &sum)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "driver: %s: %v\n", p, err)
			status = 1
		}
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "driver: stopped:", context.Cause(ctx))
			return 1
		}
	}
	return status
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "driver: "+format+"\n", args...)
	os.Exit(2)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "driver: "+format+"\n", args...)
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
