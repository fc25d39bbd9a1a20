package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// SSABin is systemd-socket-activate.
const SSABin = "/usr/bin/systemd-socket-activate"

// Manager starts the service on the first connection to Port.
type Manager interface {
	Name() string
	// Prepare gets ready for the next sample: the port is listening and
	// the manager idle.
	Prepare() error
	Port() int
	// After waits until the activation of the sample is over.
	After() error
	Close() error
}

// Poll is how often log files are polled between samples.
const Poll = time.Millisecond

// SockdManager is one long-running sockd with one unit, re-armed after
// every activation (the service exits after one connection).
type SockdManager struct {
	proc  *Proc
	port  int
	count int
	// Ready is how long sockd took from exec to "sockd ready".
	Ready time.Duration
}

// StartSockdManager writes a unit for service in dir/units and starts
// sockd on it.
func StartSockdManager(sockd, service, dir string) (*SockdManager, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	unitDir := filepath.Join(dir, "units")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		return nil, err
	}
	u := Unit{Name: "tinysvc", Listen: fmt.Sprintf("127.0.0.1:%d", port), ExecStart: service, NoTriggerLimit: true}
	if err := WriteUnit(unitDir, TOML, u); err != nil {
		return nil, err
	}
	p, err := StartProc(filepath.Join(dir, "sockd.log"), sockd, "--units", unitDir, "--runtime-dir", filepath.Join(dir, "run"))
	if err != nil {
		return nil, err
	}
	m := &SockdManager{proc: p, port: port}
	if m.Ready, err = p.WaitLog("sockd ready", 1, Poll, 30*time.Second); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return m, nil
}

func (m *SockdManager) Name() string   { return "sockd" }
func (m *SockdManager) Port() int      { return m.port }
func (m *SockdManager) Prepare() error { return m.proc.Alive() }

// After waits for sockd to log the service's exit: the unit is then
// listening again (sockd re-arms right after logging it).
func (m *SockdManager) After() error {
	m.count++
	_, err := m.proc.WaitLog("service exited", m.count, Poll, 10*time.Second)
	return err
}

// Pid returns sockd's pid.
func (m *SockdManager) Pid() int { return m.proc.Pid() }

func (m *SockdManager) Close() error {
	_, err := m.proc.Stop(10 * time.Second)
	return err
}

// SSAManager starts a fresh systemd-socket-activate for every sample: it
// execs the service on the first connection and is gone afterwards.
type SSAManager struct {
	bin, service, dir string
	proc              *Proc
	port              int
	n                 int
}

// NewSSAManager returns a manager running bin (systemd-socket-activate).
func NewSSAManager(bin, service, dir string) *SSAManager {
	return &SSAManager{bin: bin, service: service, dir: dir}
}

func (m *SSAManager) Name() string { return "systemd-socket-activate" }
func (m *SSAManager) Port() int    { return m.port }

func (m *SSAManager) Prepare() error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return err
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	m.port = port
	m.n++
	log := filepath.Join(m.dir, "ssa-"+strconv.Itoa(m.n%4)+".log")
	p, err := StartProc(log, m.bin, "-l", fmt.Sprintf("127.0.0.1:%d", port), m.service)
	if err != nil {
		return err
	}
	m.proc = p
	_, err = p.WaitLog("Listening on", 1, Poll, 10*time.Second)
	return err
}

func (m *SSAManager) After() error {
	if m.proc == nil {
		return nil
	}
	err := m.proc.Wait(10 * time.Second)
	m.proc.Log.Close()
	m.proc = nil
	return err
}

func (m *SSAManager) Close() error {
	if m.proc != nil {
		m.proc.Stop(5 * time.Second)
		m.proc = nil
	}
	return nil
}

// Interleave takes warmup+n samples from each manager, alternating which
// one goes first, and returns the n kept samples of each (in the order of
// ms). settle is slept after Prepare, before the connection.
func Interleave(ms []Manager, warmup, n int, settle time.Duration, progress func(i int)) ([][]Sample, error) {
	out := make([][]Sample, len(ms))
	for i := range warmup + n {
		for j := range ms {
			m := ms[(i+j)%len(ms)]
			idx := (i + j) % len(ms)
			if err := m.Prepare(); err != nil {
				return out, fmt.Errorf("%s: %w", m.Name(), err)
			}
			time.Sleep(settle)
			s, err := Probe(m.Port(), 10*time.Second)
			if err != nil {
				return out, fmt.Errorf("%s: %w", m.Name(), err)
			}
			if err := m.After(); err != nil {
				return out, fmt.Errorf("%s: %w", m.Name(), err)
			}
			if i >= warmup {
				out[idx] = append(out[idx], s)
			}
		}
		if progress != nil {
			progress(i)
		}
	}
	return out, nil
}

// Latencies returns the latency of each sample.
func Latencies(ss []Sample, f func(Sample) time.Duration) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
