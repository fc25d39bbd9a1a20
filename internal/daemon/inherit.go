package daemon

import (
	"log/slog"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/units"
)

// inherited holds the fds sockd itself was passed with LISTEN_FDS (when a
// service manager socket-activates sockd), to adopt instead of binding.
type inherited struct {
	fds  []int
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

// closeUnused closes the inherited fds no unit adopted.
func (in *inherited) closeUnused(log *slog.Logger) {
	for _, fd := range in.fds {
		if !in.used[fd] {
			log.Warn("closing inherited socket that matches no unit", "fd", fd)
			unix.Close(fd)
		}
	}
}
