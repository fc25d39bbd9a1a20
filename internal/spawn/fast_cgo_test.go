//go:build cgo && amd64

package spawn

import "testing"

// TestChildrenCollected: the blocks of fast-path children that nobody
// called ExecDone for are freed by the next spawn, and their ExecDone is
// closed then.
func TestChildrenCollected(t *testing.T) {
	requireFast(t)
	r := newReaper(t)
	var ps []*Process
	for range 8 {
		p, err := Spawn(r, &Spec{Path: "/bin/true"})
		if err != nil {
			t.Fatal(err)
		}
		<-p.Exit
		ps = append(ps, p)
	}
	sweepChildren()
	children.Lock()
	defer children.Unlock()
	for _, p := range ps {
		if _, ok := children.m[p]; ok || p.child.block != nil {
			t.Errorf("pid %d: block not freed", p.Pid)
		}
		select {
		case <-p.execDone:
		default:
			t.Errorf("pid %d: ExecDone not closed", p.Pid)
		}
	}
}
