package supervise

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// Instance is a live per-connection service instance of an Accept=yes
// unit.
type Instance struct {
	// Name is the instance's service name, as systemd names it:
	// "echo@0-127.0.0.1:7-127.0.0.1:40000.service".
	Name string
	// PID is the instance's main process, 0 while it is being started.
	PID int
	// Remote is the peer: "127.0.0.1:40000", "[::1]:40000", or a Unix
	// peer's name or pid and uid.
	Remote string
	Since  time.Time // when the connection was accepted
}

// instanceTable is the set of live instances of an Accept=yes unit, with
// their count per source for MaxConnectionsPerSource=. It is guarded by
// Unit.mu: the accept loop adds to it, each instance's goroutine removes
// itself, and Status and Instances read it. Entries and per-source counts
// are deleted when they drop to zero, so it never grows beyond the live
// instances.
type instanceTable struct {
	byID      map[uint64]*liveInstance
	perSource map[string]int
	nextID    uint64
}

type liveInstance struct {
	Instance
	id     uint64 // its key in instanceTable.byID
	source string
	stop   func()             // stops this instance; call it without Unit.mu
	cancel context.CancelFunc // the context of its goroutine, if it has one
	done   chan struct{}      // closed when the instance has ended
	// proc is the main process once started; instance and env are what
	// it was started with (Park saves them).
	proc     *spawn.Process
	instance string
	env      []string

	// An instance started inline (accept_inline.go): its settings, and
	// how far it got.
	svc        *units.Service
	stopWanted bool               // stop it once started
	exited     bool               // the reaper reported the exit, which ended it
	stopExit   chan reaper.Status // set while a goroutine stops it: the exit goes there
}

// admit adds inst if the limits allow another instance from source; it
// returns nil and the reason if they do not. max is MaxConnections=,
// perSource MaxConnectionsPerSource= (0: no limit).
func (t *instanceTable) admit(inst *liveInstance, max, perSource int) error {
	if len(t.byID) >= max {
		return fmt.Errorf("too many incoming connections (%d)", len(t.byID))
	}
	if n := t.perSource[inst.source]; perSource > 0 && n >= perSource {
		return fmt.Errorf("too many incoming connections (%d) from source %s", n, inst.source)
	}
	t.insert(inst)
	return nil
}

// insert adds inst whatever the limits: an instance a previous image of
// sockd admitted. It sets inst.id.
func (t *instanceTable) insert(inst *liveInstance) {
	if t.byID == nil {
		t.byID, t.perSource = map[uint64]*liveInstance{}, map[string]int{}
	}
	t.nextID++
	inst.id = t.nextID
	t.byID[t.nextID] = inst
	t.perSource[inst.source]++
}

// remove forgets an instance that has ended.
func (t *instanceTable) remove(inst *liveInstance) {
	if t.byID[inst.id] != inst {
		return
	}
	delete(t.byID, inst.id)
	if t.perSource[inst.source]--; t.perSource[inst.source] <= 0 {
		delete(t.perSource, inst.source)
	}
}

// list returns the live instances, oldest first.
func (t *instanceTable) list() []Instance {
	out := make([]Instance, 0, len(t.byID))
	for _, inst := range t.byID {
		out = append(out, inst.Instance)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// find returns the live instance named name.
func (t *instanceTable) find(name string) *liveInstance {
	for _, inst := range t.byID {
		if inst.Name == name {
			return inst
		}
	}
	return nil
}

// Instances returns the live per-connection instances of an Accept=yes
// unit, oldest first; none for other units.
func (u *Unit) Instances() []Instance {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.instances.list()
}

// Instance returns the live instance named name ("echo@0-….service").
func (u *Unit) Instance(name string) (Instance, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if inst := u.instances.find(name); inst != nil {
		return inst.Instance, true
	}
	return Instance{}, false
}

// ErrNoInstance is returned by StopInstance for a name that is not a
// live instance.
var ErrNoInstance = fmt.Errorf("no such instance")

// StopInstance stops one per-connection instance, with its service's
// ExecStop=, KillSignal= and, after TimeoutStopSec=, SIGKILL, and waits
// until it has ended (or ctx is done).
func (u *Unit) StopInstance(ctx context.Context, name string) error {
	u.mu.Lock()
	inst := u.instances.find(name)
	u.mu.Unlock()
	if inst == nil {
		return fmt.Errorf("%s: %w", name, ErrNoInstance)
	}
	inst.stop()
	select {
	case <-inst.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
