package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ScaleConfig describes one scale run: sockd with N generated units.
type ScaleConfig struct {
	Sockd, Service string
	N              int
	Format         Format
	Listen         Listen
	PortBase       int           // for ListenTCP
	Runs           int           // start-ups to time; the first one is also measured idle
	Idle           time.Duration // how long to count idle wake-ups; 0 skips it
	Settle         time.Duration // wait after "sockd ready" before the idle count
	Args           []string      // extra sockd arguments (e.g. --log-level warn)
	Prefix         []string      // command prefix (e.g. prlimit --nofile=1024:20000 --)
	Dir            string
}

// ScaleResult is what one scale run measured.
type ScaleResult struct {
	Config   ScaleConfig
	Startups []time.Duration // exec → "sockd ready" in the log
	CPU      []time.Duration // sockd's user+system CPU time when "sockd ready" was seen
	Stops    []time.Duration // SIGTERM → exit
	// Memory right after "sockd ready" and after the idle period.
	AtReady, AfterIdle Memory
	// Idle wake-ups: context switches of every sockd thread over Idle.
	Switches  uint64
	PerThread map[int]uint64
	Ready     int // the units= count of the "sockd ready" line
}

// WakeupsPerSec is Switches over the idle period.
func (r *ScaleResult) WakeupsPerSec() float64 {
	if r.Config.Idle <= 0 {
		return 0
	}
	return float64(r.Switches) / r.Config.Idle.Seconds()
}

// RunScale generates the units and runs sockd on them cfg.Runs times.
func RunScale(cfg ScaleConfig) (*ScaleResult, error) {
	unitDir := filepath.Join(cfg.Dir, "units")
	sockDir := filepath.Join(cfg.Dir, "s")
	if err := os.MkdirAll(sockDir, 0o755); err != nil {
		return nil, err
	}
	if cfg.Listen == ListenTCP {
		if err := CheckPortsFree(cfg.PortBase, cfg.N); err != nil {
			return nil, err
		}
	}
	addrs, err := Addresses(cfg.Listen, cfg.N, cfg.PortBase, sockDir)
	if err != nil {
		return nil, err
	}
	if err := WriteUnits(unitDir, cfg.Format, addrs, cfg.Service); err != nil {
		return nil, err
	}
	res := &ScaleResult{Config: cfg}
	for run := range max(cfg.Runs, 1) {
		argv := append([]string{}, cfg.Prefix...)
		argv = append(argv, cfg.Sockd, "--units", unitDir, "--runtime-dir", filepath.Join(cfg.Dir, "run"))
		argv = append(argv, cfg.Args...)
		p, err := StartProc(filepath.Join(cfg.Dir, fmt.Sprintf("sockd-%d.log", run)), argv...)
		if err != nil {
			return nil, err
		}
		ready, err := p.WaitLog("sockd ready", 1, 200*time.Microsecond, 60*time.Second)
		if err != nil {
			p.Stop(10 * time.Second)
			return nil, err
		}
		res.Startups = append(res.Startups, ready)
		if cpu, err := CPUTime(p.Pid()); err == nil {
			res.CPU = append(res.CPU, cpu)
		}
		if run == 0 {
			res.Ready = readyUnits(p.Log.Lines())
			res.AtReady, _ = ReadMemory(p.Pid())
			if cfg.Idle > 0 {
				time.Sleep(cfg.Settle)
				before, err := CtxSwitches(p.Pid())
				if err != nil {
					p.Stop(10 * time.Second)
					return nil, err
				}
				time.Sleep(cfg.Idle)
				after, err := CtxSwitches(p.Pid())
				if err != nil {
					p.Stop(10 * time.Second)
					return nil, err
				}
				res.Switches, res.PerThread = SwitchDelta(before, after)
				res.AfterIdle, _ = ReadMemory(p.Pid())
			}
		}
		stop, err := p.Stop(30 * time.Second)
		if err != nil {
			return nil, fmt.Errorf("stopping sockd: %w", err)
		}
		res.Stops = append(res.Stops, stop)
	}
	return res, nil
}

// readyUnits returns N of the "sockd ready units=N" log line.
func readyUnits(lines []string) int {
	for _, l := range lines {
		if !strings.Contains(l, "sockd ready") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "units="); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
	}
	return -1
}
