package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sockd/sockd/bench/internal/harness"
)

// handoverGoal is the goal for handing over 10,000 listeners.
const handoverGoal = 50 * time.Millisecond

// scaleUnits writes n units into dir: n−1 TOML units listening on
// 127.0.0.1:base… whose service is never started, and probe.socket on the
// last port, whose every connection sockd serves by starting a process:
// with c.probe "accept", an Accept=yes unit whose instances write
// "hello" (/bin/echo, forked without the shim); with "oneshot", an
// Accept=no unit whose service (bench/tinysvc) answers one connection
// and exits. It returns the probe's address.
func scaleUnits(c config, dir string, n int) (string, error) {
	base := c.portBase
	if base == 0 {
		var err error
		if base, err = freeRange(n); err != nil {
			return "", err
		}
	} else if err := harness.CheckPortsFree(base, n); err != nil {
		return "", fmt.Errorf("%w (pick another range with -port-base)", err)
	}
	progress("scale: ports 127.0.0.1:%d-%d", base, base+n-1)
	addrs, err := harness.Addresses(harness.ListenTCP, n-1, base, "")
	if err != nil {
		return "", err
	}
	if err := harness.WriteUnits(dir, harness.TOML, addrs, "/bin/true"); err != nil {
		return "", err
	}
	probe := fmt.Sprintf("127.0.0.1:%d", base+n-1)
	files := map[string]string{}
	switch c.probe {
	case "accept":
		files["probe.socket"] = "[Socket]\nListenStream=" + probe + "\nAccept=yes\nMaxConnections=1000\nTriggerLimitBurst=0\n"
		files["probe@.service"] = "[Service]\nExecStart=/bin/echo hello\nStandardInput=socket\n"
	case "oneshot":
		if c.tinysvc == "" {
			return "", errors.New("-probe oneshot needs -tinysvc")
		}
		files["probe.socket"] = "[Socket]\nListenStream=" + probe + "\nTriggerLimitBurst=0\nTriggerLimitIntervalSec=0\n"
		files["probe.service"] = "[Service]\nExecStart=" + c.tinysvc + "\n"
	default:
		return "", fmt.Errorf("-probe %q: want accept or oneshot", c.probe)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	return probe, nil
}

// probeKinds describe the probe units.
var probeKinds = map[string]string{
	"accept":  "an Accept=yes unit running /bin/echo per connection",
	"oneshot": "an Accept=no unit whose service answers one connection and exits",
}

// freeRange returns the first port of n consecutive TCP ports free on
// 127.0.0.1 below the ephemeral range (32768): from 10000 up, then from
// 1024 up, keeping out of 20000-29999 (bench/run.sh's scale runs) if it
// can.
func freeRange(n int) (int, error) {
	for _, r := range [][2]int{{10000, 20000}, {1024, 20000}, {1024, 32768}} {
		start := r[0]
		for p := r[0]; p < r[1] && start+n <= r[1]; p++ {
			l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				start = p + 1
				continue
			}
			l.Close()
			if p-start+1 == n {
				return start, nil
			}
		}
	}
	return 0, fmt.Errorf("no %d consecutive free TCP ports on 127.0.0.1 below 32768", n)
}

// scaleRun is what runScale measured.
type scaleRun struct {
	units               int
	startup, stop       time.Duration
	fdsBefore, fdsAfter int
	rssBefore, rssAfter float64
	probeKind           string
	upgrades            []*upgrade
	probes              []probeSample
}

// runScale upgrades a sockd with c.units listeners c.scaleUpgrades times
// while the probe connects to one of them, and prints the tables.
func runScale(ctx context.Context, c config, hardNofile uint64, sum *summary) error {
	n := c.units
	if need := uint64(n) + 256; hardNofile < need {
		n = int(hardNofile) - 256
		progress("scale: the hard RLIMIT_NOFILE is %d: %d units instead of %d", hardNofile, n, c.units)
	}
	if n < 2 {
		return fmt.Errorf("RLIMIT_NOFILE %d leaves no room for units", hardNofile)
	}
	dir := filepath.Join(c.work, "scale-units")
	probeAddr, err := scaleUnits(c, dir, n)
	if err != nil {
		return err
	}
	progress("scale: starting sockd with %d units", n)
	s, startup, err := startSockd(c, "scale", dir)
	if err != nil {
		return err
	}
	r := &scaleRun{units: n, probeKind: probeKinds[c.probe], startup: startup, fdsBefore: openFDs(s.Pid()), rssBefore: rssMB(s.Pid())}
	err = scaleUpgrades(ctx, c, s, probeAddr, r)
	sleep(ctx, 300*time.Millisecond) // for the last probe's service to end
	r.fdsAfter, r.rssAfter = openFDs(s.Pid()), rssMB(s.Pid())
	stop, stopErr := s.Stop(60 * time.Second)
	r.stop = stop
	var crash *crashError
	if errors.As(err, &crash) {
		fmt.Printf("⚠ **sockd crashed** during upgrade %d (generation %d → %d): `%s`\n\n", crash.gen, crash.gen, crash.gen+1, crash.what)
		sum.add(fmt.Sprintf("sockd, %d listeners: upgrade %d", n, crash.gen), "**sockd crashed**", "no crash", "`"+crash.what+"`")
		stopErr = nil
	}
	if len(r.upgrades) > 0 {
		r.print(sum)
	}
	if err != nil && crash == nil {
		return fmt.Errorf("%w; log %s", err, s.LogPath)
	}
	if err != nil {
		return err
	}
	if stopErr != nil {
		return fmt.Errorf("stopping sockd: %w", stopErr)
	}
	return nil
}

// scaleUpgrades runs the probe and the upgrades of the scale phase.
func scaleUpgrades(ctx context.Context, c config, s *sockdProc, probeAddr string, r *scaleRun) error {
	pctx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	p := startProbe(pctx, probeAddr, c.probeGap)
	defer func() { stopProbe(); r.probes = p.stop() }()
	if !sleep(ctx, c.scaleSettle) {
		return ctx.Err()
	}
	for i := 1; i <= c.scaleUpgrades; i++ {
		binary := c.sockd2
		if i%2 == 0 {
			binary = c.sockd
		}
		u, err := s.upgrade(ctx, binary, i+1)
		if err != nil {
			return fmt.Errorf("upgrade %d: %w", i, err)
		}
		r.upgrades = append(r.upgrades, u)
		progress("scale: upgrade %d: %s", i, u.out)
		if !sleep(ctx, c.scaleSettle) {
			return ctx.Err()
		}
	}
	return nil
}

// inUpgrade reports whether t falls in an upgrade of r: from the command
// to 100 ms after the new generation was ready.
func (r *scaleRun) inUpgrade(t time.Time) bool {
	for _, u := range r.upgrades {
		if !t.Before(u.start) && t.Before(u.phases.ready.Add(100*time.Millisecond)) {
			return true
		}
	}
	return false
}

func (r *scaleRun) print(sum *summary) {
	base := summarizeProbe(r.probes, func(t time.Time) bool { return !r.inUpgrade(t) })
	fmt.Printf("## sockd with %d listeners: sockctl upgrade, %d times\n\n", r.units, len(r.upgrades))
	fmt.Printf("Start-up %s ms, stop %s ms. ", ms(r.startup), ms(r.stop))
	if r.fdsAfter >= 0 {
		fmt.Printf("fds %d before the upgrades, %d after; RSS %.0f MB → %.0f MB.\n", r.fdsBefore, r.fdsAfter, r.rssBefore, r.rssAfter)
	} else {
		fmt.Printf("fds %d before the upgrades; RSS %.0f MB.\n", r.fdsBefore, r.rssBefore)
	}
	fmt.Printf("Probe (%s, connect → first byte) outside the upgrades: %d connections, median %s ms, max %s ms, %d failed.\n\n",
		r.probeKind, base.n, ms(base.p50), ms(base.max), base.failed)
	fmt.Println("End to end (ms; goal for handing over 10,000 listeners: < 50 ms):")
	fmt.Println()
	fmt.Println("| # | to | `sockctl upgrade` returned | command → new generation ready | listeners not watched (`re-executing` → `ready`) | longest wait of a new connection (probe) | … which connected at (after the command) | probe connections during the upgrade | handover state |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for i, u := range r.upgrades {
		p := u.phases
		st := summarizeProbe(r.probes, func(t time.Time) bool {
			return !t.Before(u.start) && t.Before(p.ready.Add(100*time.Millisecond))
		})
		fails := ""
		if st.failed > 0 {
			fails = fmt.Sprintf(" ⚠ %d failed", st.failed)
		}
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %s | %d%s | %s |\n", i+1, filepath.Base(u.binary),
			ms(u.end.Sub(u.start)), ms(between(u.start, p.ready)), ms(between(p.reexec, p.ready)), ms(st.max),
			ms(between(u.start, st.maxAt)), st.n, fails, size(p.state))
	}
	fmt.Println()
	r.summarize(sum)
	printPhaseTable("Phases from sockd's log (ms):", r.upgrades)
	fmt.Println()
	printPauseTable(r.upgrades)
	fmt.Println()
}

// printPauseTable prints the phases during which idle units do not
// serve, from the first unit parked to sockd ready, as far as sockd logs
// them (a sockd before fastrestore logs fewer: "–").
func printPauseTable(ups []*upgrade) {
	fmt.Println("The pause, phase by phase (ms; the settings are encoded before parking, while every unit serves):")
	fmt.Println()
	fmt.Println("| # | encode the settings (not paused) | park every unit | mark the fds inheritable, encode the state, → execve | execve → control socket ready | → `taking over` | restore the units | watch the listeners → `sockd ready` | **park → ready** |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, u := range ups {
		p := u.phases
		park, restore := between(p.parkStart(), p.parked), between(p.taking, p.restored)
		final, watch := between(p.parked, p.reexec), between(p.restored, p.ready)
		if p.parked.IsZero() {
			park = between(p.parkStart(), p.reexec)
		}
		if p.restored.IsZero() {
			restore = between(p.taking, p.ready)
		}
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", i+1,
			ms(between(p.checked, p.encoded)), ms(park), ms(final), ms(between(p.reexec, p.control)),
			ms(between(p.control, p.taking)), ms(restore), ms(watch), ms(between(p.parkStart(), p.ready)))
	}
}

// printPhaseTable prints the title and a table of the phases of each
// upgrade, as sockd's log timed them.
func printPhaseTable(title string, ups []*upgrade) {
	fmt.Println(title)
	fmt.Println()
	fmt.Println("| # | command → request logged | check child: start → asks handoff.sock | check child: receives and matches the listeners, loads the units | → `new binary checked` | park every unit | execve → control socket ready | read the unit files (→ `taking over`) | restore (adopt the listeners, rebuild the units) → `sockd ready` |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, u := range ups {
		printPhases(i+1, u)
	}
}

func printPhases(i int, u *upgrade) {
	p := u.phases
	fmt.Printf("| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", i,
		ms(between(u.start, p.requested)), ms(between(p.requested, p.asked)), ms(between(p.asked, p.aborted)),
		ms(between(p.aborted, p.checked)), ms(between(p.checked, p.reexec)), ms(between(p.reexec, p.control)),
		ms(between(p.control, p.taking)), ms(between(p.taking, p.ready)))
}

// summarize adds the medians over the upgrades to sum.
func (r *scaleRun) summarize(sum *summary) {
	var e2e, returned, unwatched, paused, wait []time.Duration
	failed := 0
	for _, u := range r.upgrades {
		p := u.phases
		st := summarizeProbe(r.probes, func(t time.Time) bool {
			return !t.Before(u.start) && t.Before(p.ready.Add(100*time.Millisecond))
		})
		e2e, returned = append(e2e, between(u.start, p.ready)), append(returned, u.end.Sub(u.start))
		unwatched, wait = append(unwatched, between(p.reexec, p.ready)), append(wait, st.max)
		paused = append(paused, between(p.parkStart(), p.ready))
		failed += st.failed
	}
	pair := func(ds []time.Duration) (string, time.Duration) {
		m, w := median(ds)
		return fmt.Sprintf("%s ms (worst %s)", ms(m), ms(w)), m
	}
	what := fmt.Sprintf("sockd, %d listeners, %d upgrades (median): ", r.units, len(r.upgrades))
	f, _ := pair(e2e)
	sum.add(what+"`sockctl upgrade` → new generation ready", f, "", "")
	f, _ = pair(returned)
	sum.add("… `sockctl upgrade` returned", f, "", "")
	f, m := pair(unwatched)
	sum.add("… listeners not watched (`re-executing sockd` → `sockd ready`)", f, "< 50 ms", verdict(m, handoverGoal))
	f, _ = pair(paused)
	sum.add("… from parking the first unit to `sockd ready`", f, "", "")
	f, m = pair(wait)
	base := summarizeProbe(r.probes, func(t time.Time) bool { return !r.inUpgrade(t) })
	sum.add(fmt.Sprintf("… longest wait of a new connection (probe; %s ms outside the upgrades)", ms(base.p50)), f, "< 50 ms", verdict(m, handoverGoal))
	if failed > 0 {
		sum.add("… probe connections that failed during the upgrades", fmt.Sprint(failed), "0", "**missed**")
	}
}

// size formats a byte count.
func size(n int) string {
	if n >= 1e6 {
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f kB", float64(n)/1e3)
}
