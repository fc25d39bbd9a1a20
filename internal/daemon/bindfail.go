package daemon

import (
	"sync"

	"github.com/sockd/sockd/units"
)

// bindFailures are the units whose listeners could not be bound (a port
// already taken, a missing directory): they stay loaded, stopped, and
// show as failed with Result "resources" and the error, as systemd shows
// a socket unit that failed to bind; starting one tries the bind again.
type bindFailures struct {
	mu   sync.Mutex
	errs map[string]string // unit name → the bind error
}

// set records (err != nil) or clears (err == nil) name's bind failure.
func (b *bindFailures) set(name string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.errs, name)
		return
	}
	if b.errs == nil {
		b.errs = map[string]string{}
	}
	b.errs[name] = err.Error()
}

// get returns name's bind error, if its last bind failed.
func (b *bindFailures) get(name string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.errs[name]
	return e, ok
}

func (b *bindFailures) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.errs)
}

// failBind keeps u loaded, stopped, with its bind error. d.mu is held.
func (d *Daemon) failBind(u *units.Unit, err error) {
	d.log.Error("unit failed", "unit", u.Name+".socket", "err", err)
	d.bindFailed.set(u.Name, err)
	if _, ok := d.units[u.Name]; !ok {
		d.units[u.Name] = &running{sup: d.stoppedSupervisor(u)}
	}
}
