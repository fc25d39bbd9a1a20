package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sockd/sockd/bench/internal/harness"
)

// sockdProc is a sockd started by the driver, logging JSON lines (their
// times have nanoseconds) into a file.
type sockdProc struct {
	*harness.Proc
	runtimeDir string
	sockctl    string
}

// startSockd starts binary on the units in unitDir and waits for "sockd
// ready".
func startSockd(c config, name, unitDir string) (*sockdProc, time.Duration, error) {
	rt := filepath.Join(c.work, name+"-run")
	p, err := harness.StartProc(filepath.Join(c.work, name+".log"), c.sockd,
		"--units", unitDir, "--runtime-dir", rt, "--log-format", "json")
	if err != nil {
		return nil, 0, fmt.Errorf("starting sockd: %w", err)
	}
	ready, err := p.WaitLog(`"msg":"sockd ready"`, 1, 200*time.Microsecond, 60*time.Second)
	if err != nil {
		p.Stop(30 * time.Second)
		return nil, 0, err
	}
	return &sockdProc{Proc: p, runtimeDir: rt, sockctl: c.sockctl}, ready, nil
}

// upgrade is one `sockctl upgrade` and what sockd logged of it.
type upgrade struct {
	binary     string
	start, end time.Time // before sockctl started, after it exited
	out        string
	phases     phases
}

// upgrade runs sockctl upgrade --binary binary and waits until sockd
// logs "sockd ready" for generation gen. If sockd dies meanwhile, it
// ends sockctl (which would wait for minutes) and returns a *crashError.
func (s *sockdProc) upgrade(ctx context.Context, binary string, gen int) (*upgrade, error) {
	u := &upgrade{binary: binary}
	from := len(s.Log.Lines())
	crashed := func() error {
		if s.Alive() == nil {
			return nil
		}
		return &crashError{gen: gen - 1, what: crashSummary(s.Log.Lines()[from:]), log: s.LogPath}
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var out strings.Builder
	cmd := exec.CommandContext(cctx, s.sockctl, "upgrade", "--binary", binary)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+s.runtimeDir, "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	u.start = time.Now()
	if err := cmd.Start(); err != nil {
		return u, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	for waiting := true; waiting; {
		select {
		case err = <-done:
			u.end, waiting = time.Now(), false
		case <-time.After(5 * time.Millisecond):
			if c := crashed(); c != nil {
				cancel()
				<-done
				return u, c
			}
		}
	}
	u.out = strings.TrimSpace(out.String())
	if err != nil {
		if c := crashed(); c != nil {
			return u, c
		}
		return u, fmt.Errorf("sockctl upgrade --binary %s: %w: %s", binary, err, u.out)
	}
	ready := fmt.Sprintf(`"generation":%d,`, gen)
	deadline := time.Now().Add(time.Minute)
	for {
		lines := s.Log.Lines()[from:]
		if p := readPhases(lines); !p.ready.IsZero() && containsBoth(lines, `"msg":"sockd ready"`, ready) {
			u.phases = p
			return u, nil
		}
		if c := crashed(); c != nil {
			return u, c
		}
		if time.Now().After(deadline) || !sleep(ctx, time.Millisecond) {
			return u, fmt.Errorf("no \"sockd ready\" for generation %d in %s", gen, s.LogPath)
		}
	}
}

// crashError is an upgrade during which sockd died.
type crashError struct {
	gen       int
	what, log string
}

func (e *crashError) Error() string {
	return fmt.Sprintf("sockd (generation %d) died during the upgrade: %s; log %s", e.gen, e.what, e.log)
}

// crashSummary is the panic message of a Go crash in lines and the
// sockd functions on the stack, innermost first; or the last line.
func crashSummary(lines []string) string {
	var msg string
	var frames []string
	for _, l := range lines {
		switch {
		case msg == "" && strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:"):
			msg = l
		case msg != "" && strings.HasPrefix(l, "github.com/sockd/sockd/") && len(frames) < 5:
			f := strings.TrimPrefix(l, "github.com/sockd/sockd/")
			if i := strings.LastIndexByte(f, '('); i > 0 && strings.HasSuffix(f, ")") {
				f = f[:i]
			}
			frames = append(frames, f)
		}
	}
	if msg == "" {
		if len(lines) == 0 {
			return "no log"
		}
		return lines[len(lines)-1]
	}
	return msg + " in " + strings.Join(frames, " ← ")
}

func containsBoth(lines []string, a, b string) bool {
	for _, l := range lines {
		if strings.Contains(l, a) && strings.Contains(l, b) {
			return true
		}
	}
	return false
}

// phases are the times sockd logged during one upgrade.
type phases struct {
	requested time.Time // the control API got the request
	asked     time.Time // the check child connected to handoff.sock
	aborted   time.Time // the check child loaded the units and said abort
	checked   time.Time // the check passed; parking starts
	encoded   time.Time // the units' settings encoded (since fastrestore); parking starts
	parked    time.Time // every unit parked (since fastrestore)
	parking   time.Time // parking starts (since internal/upgrade; the settings are encoded before the check)
	reexec    time.Time // everything parked; execve next
	control   time.Time // the new image serves the control socket
	taking    time.Time // the new image starts restoring the units
	restored  time.Time // the units restored, not watched yet (since fastrestore)
	ready     time.Time // the new image watches every listener again
	state     int       // bytes of the handover state passed across execve
}

// readPhases finds the phases of one upgrade in sockd's JSON log lines,
// taking the first line of each kind.
func readPhases(lines []string) phases {
	var p phases
	at := map[string]*time.Time{
		"upgrade requested":                           &p.requested,
		"a new sockd asks to take over":               &p.asked,
		"takeover aborted by the new sockd; going on": &p.aborted,
		"new binary checked":                          &p.checked,
		"upgrade state: units' settings encoded":      &p.encoded,
		"upgrade: every unit parked":                  &p.parked,
		"upgrade: parking every unit":                 &p.parking,
		"units restored":                              &p.restored,
		"re-executing sockd":                          &p.reexec,
		"control socket ready":                        &p.control,
		"taking over from the previous sockd":         &p.taking,
		"sockd ready":                                 &p.ready,
	}
	for _, l := range lines {
		var rec struct {
			Time  time.Time `json:"time"`
			Msg   string    `json:"msg"`
			State int       `json:"state_bytes"`
		}
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		if rec.State > 0 && p.state == 0 {
			p.state = rec.State
		}
		if t, ok := at[rec.Msg]; ok && t.IsZero() {
			*t = rec.Time
		}
	}
	return p
}

// between returns b−a, or −1 if either is missing.
func between(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return -1
	}
	return b.Sub(a)
}

// ms formats d in milliseconds; "–" for a negative d (missing).
func ms(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// openFDs counts the fds of pid.
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// rssMB is the VmRSS of pid in MB.
func rssMB(pid int) float64 {
	m, err := harness.ReadMemory(pid)
	if err != nil {
		return -1
	}
	return float64(m.RSSkB) / 1024
}

func numCPU() int { return runtime.NumCPU() }

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// parkStart is when the first unit could be parked: after the settings
// are encoded, or after the check for a sockd that does not log that.
func (p phases) parkStart() time.Time {
	if !p.parking.IsZero() { // since internal/upgrade: encoded before the check
		return p.parking
	}
	if !p.encoded.IsZero() {
		return p.encoded
	}
	return p.checked
}
