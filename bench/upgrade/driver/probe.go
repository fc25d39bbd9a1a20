package main

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"
)

// probeSample is one connection of the probe: when it started dialling
// and how long until the first byte of the answer came.
type probeSample struct {
	at   time.Time
	wait time.Duration
	err  error
}

// probe connects to addr in a loop, gap apart, until ctx is done, and
// times each connection from connect(2) to the first byte. It is the
// client that finds how long a new connection waits while sockd is not
// watching its listeners.
type probe struct {
	addr    string
	gap     time.Duration
	mu      sync.Mutex
	samples []probeSample
	done    chan struct{}
}

func startProbe(ctx context.Context, addr string, gap time.Duration) *probe {
	p := &probe{addr: addr, gap: gap, done: make(chan struct{})}
	go p.loop(ctx)
	return p
}

func (p *probe) loop(ctx context.Context) {
	defer close(p.done)
	var d net.Dialer
	buf := make([]byte, 1)
	for ctx.Err() == nil {
		s := probeSample{at: time.Now()}
		c, err := d.DialContext(ctx, "tcp", p.addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(30 * time.Second))
			_, err = c.Read(buf)
			s.wait = time.Since(s.at)
			c.Close()
		}
		if ctx.Err() != nil {
			break
		}
		s.err = err
		p.mu.Lock()
		p.samples = append(p.samples, s)
		p.mu.Unlock()
		sleep(ctx, p.gap)
	}
}

// stop waits for the loop to end (its ctx must be done) and returns the
// samples.
func (p *probe) stop() []probeSample {
	<-p.done
	return p.samples
}

// probeStats summarises the samples that started in [from, to).
type probeStats struct {
	n, failed int
	p50, max  time.Duration
	maxAt     time.Time
}

func summarizeProbe(ss []probeSample, in func(time.Time) bool) probeStats {
	var st probeStats
	var ws []time.Duration
	for _, s := range ss {
		if !in(s.at) {
			continue
		}
		if s.err != nil {
			st.failed++
			continue
		}
		ws = append(ws, s.wait)
		if s.wait > st.max {
			st.max, st.maxAt = s.wait, s.at
		}
	}
	st.n = len(ws)
	if st.n > 0 {
		slices.Sort(ws)
		st.p50 = ws[st.n/2]
	}
	return st
}
