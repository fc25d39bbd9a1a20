package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/units"
)

// inherited holds the fds sockd itself was passed with LISTEN_FDS (when a
// service manager socket-activates sockd), to adopt instead of binding.
type inherited struct {
	fds  []int
	mu   sync.Mutex // guards used: bindAll adopts from several goroutines
	used map[int]bool
}

// inheritedFDs takes the fds of sd_listen_fds(3) if LISTEN_PID is ours,
// marks them close-on-exec and unsets the variables.
func inheritedFDs(log *slog.Logger) *inherited {
	in := &inherited{used: map[int]bool{}}
	defer func() {
		for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"} {
			os.Unsetenv(k)
		}
	}()
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return in
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return in
	}
	for fd := 3; fd < 3+n; fd++ {
		unix.CloseOnExec(fd)
		in.fds = append(in.fds, fd)
	}
	log.Info("adopting inherited sockets", "count", n)
	return in
}

// adoptOrBind returns the unit's listeners: each one adopted from an
// inherited fd with the same type and address, or bound anew.
func (in *inherited) adoptOrBind(u *units.Unit) ([]*activation.Listener, error) {
	if len(in.fds) == 0 {
		return activation.Bind(u.Name+".socket", &u.Socket)
	}
	return activation.BindWith(u.Name+".socket", &u.Socket, func(l units.Listener) int {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, fd := range in.fds {
			if in.used[fd] {
				continue
			}
			if ok, err := activation.Matches(fd, l); err == nil && ok {
				in.used[fd] = true
				return fd
			}
		}
		return -1
	})
}

// bindAll returns each unit's listeners (adoptOrBind, between the
// unit's ExecStartPre= and ExecStartPost= by hooked), or why it has none, binding on every CPU: with thousands of units, binding (four
// system calls a listener) is a good part of start-up, after parsing.
func (in *inherited) bindAll(us []*units.Unit, hooked func(*units.Unit, func() ([]*activation.Listener, error)) ([]*activation.Listener, error)) ([][]*activation.Listener, []error) {
	ls := make([][]*activation.Listener, len(us))
	errs := make([]error, len(us))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(us)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(us); i = int(next.Add(1)) - 1 {
				ls[i], errs[i] = hooked(us[i], func() ([]*activation.Listener, error) { return in.adoptOrBind(us[i]) })
			}
		})
	}
	wg.Wait()
	return ls, errs
}

// closeUnused closes the inherited fds no unit adopted.
func (in *inherited) closeUnused(log *slog.Logger) {
	for _, fd := range in.fds {
		if !in.used[fd] {
			log.Warn("closing inherited socket that matches no unit", "fd", fd)
			unix.Close(fd)
		}
	}
}
