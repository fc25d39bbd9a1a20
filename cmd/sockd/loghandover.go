package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/logring"
)

// logRingEnv names the fd of a memfd holding the units' log records
// that the previous image of sockd handed over in an upgrade, so that
// `sockctl logs` still shows what came before it.
const logRingEnv = "SOCKD_LOGRING_FD"

// saveRing is daemon.Config.BeforeExec: it writes ring into a memfd the
// new image inherits and names it in the environment; undo closes it.
func saveRing(ring *logring.Ring, log *slog.Logger) func() (undo func()) {
	return func() func() {
		fd, err := unix.MemfdCreate("sockd-logring", 0) // inherited by the new image
		if err != nil {
			log.Warn("cannot hand the units' logs over; sockctl logs starts afresh", "err", err)
			return func() {}
		}
		f := os.NewFile(uintptr(fd), "sockd-logring")
		if err := ring.Save(f); err != nil {
			log.Warn("cannot hand the units' logs over; sockctl logs starts afresh", "err", err)
			f.Close()
			return func() {}
		}
		os.Setenv(logRingEnv, strconv.Itoa(fd))
		return func() { os.Unsetenv(logRingEnv); f.Close() }
	}
}

// loadRing reads the records the previous image handed over, if any,
// and closes their memfd.
func loadRing(ring *logring.Ring) error {
	v, ok := os.LookupEnv(logRingEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(logRingEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return fmt.Errorf("%s=%q: not an fd", logRingEnv, v)
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "sockd-logring")
	defer f.Close()
	if _, err := f.Seek(0, 0); err != nil {
		return fmt.Errorf("%s: %w", logRingEnv, err)
	}
	return ring.Load(f)
}
