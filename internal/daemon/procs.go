package daemon

import (
	"runtime"
	"sync"
)

// procs sets how many processors run sockd's Go code. sockd computes in
// bursts — loading the units, restoring them after an upgrade, preparing
// an upgrade, reloading — and these run on every CPU. Between bursts it
// only waits for events and starts processes, and then one processor is
// cheaper: the runtime no longer wakes idle threads to steal work the
// running one was about to do (for Accept=yes at 64 concurrent clients it
// halved sockd's CPU per connection; bench/accept/README.md).
type procs struct {
	idle int // GOMAXPROCS between bursts; 0 leaves it alone
	all  int // GOMAXPROCS during bursts: what the runtime chose

	mu      sync.Mutex
	working int  // bursts under way
	settled bool // the daemon is ready: between bursts, use idle
}

func newProcs(idle int) *procs {
	return &procs{idle: idle, all: runtime.GOMAXPROCS(0)}
}

// settle switches to the idle setting once the daemon is ready.
func (p *procs) settle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settled = true
	p.set()
}

// work starts a burst, which lasts until done is called (once).
func (p *procs) work() (done func()) {
	p.mu.Lock()
	p.working++
	p.set()
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.working--
			p.set()
			p.mu.Unlock()
		})
	}
}

// set applies the setting for the current state; p.mu is held.
func (p *procs) set() {
	if p.idle <= 0 {
		return
	}
	want := p.all
	if p.settled && p.working == 0 {
		want = p.idle
	}
	if runtime.GOMAXPROCS(0) != want {
		runtime.GOMAXPROCS(want)
	}
}
