package daemon

import (
	"runtime"
	"testing"
)

func TestProcs(t *testing.T) {
	all := runtime.GOMAXPROCS(0)
	if all < 2 {
		t.Skip("one CPU: nothing to switch")
	}
	t.Cleanup(func() { runtime.GOMAXPROCS(all) })
	expect := func(when string, want int) {
		t.Helper()
		if got := runtime.GOMAXPROCS(0); got != want {
			t.Errorf("%s: GOMAXPROCS %d, want %d", when, got, want)
		}
	}
	p := newProcs(1)
	done := p.work()
	done()
	expect("a burst before ready", all)
	p.settle()
	expect("ready", 1)
	outer := p.work()
	expect("in a burst", all)
	inner := p.work()
	inner()
	inner() // a second call is a no-op
	expect("after an inner burst", all)
	outer()
	expect("after the bursts", 1)

	left := newProcs(0)
	runtime.GOMAXPROCS(all)
	left.settle()
	expect("IdleProcs 0", all)
}
