package upgrade

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The variables that cross the execve with the state.
const (
	// StateEnv holds the fd of the memfd with the state.
	StateEnv = "SOCKD_UPGRADE_STATE"
	// PreviousEnv holds the fd of the previous image's binary (O_PATH),
	// for a rollback.
	PreviousEnv = "SOCKD_UPGRADE_PREVIOUS"
	// RollbackEnv is set in an image that a rollback started, to why:
	// such an image does not roll back again.
	RollbackEnv = "SOCKD_UPGRADE_ROLLBACK"
)

// Inherited is what a new image of sockd inherited from the previous
// one across the execve: the state, its bytes, and the previous binary.
// The new image restores the units from State (daemon.Restore); if it
// cannot start at all, Rollback re-executes the previous binary with the
// same state.
type Inherited struct {
	// State is the decoded state; nil if DecodeErr is set, and then the
	// new image adopts the inherited fds by matching them to its units
	// (Orphans).
	State     *State
	DecodeErr error
	// Orphans are the inherited sockets when the state could not be
	// decoded: every socket fd above 2 without close-on-exec.
	Orphans []int
	// unknown are every fd inherited without close-on-exec when the
	// state could not be decoded (made close-on-exec; a rollback makes
	// them inheritable again).
	unknown []int
	// ReadTime is how long reading and decoding took.
	ReadTime time.Duration
	// RolledBack is why the previous image rolled back to this one's
	// binary; empty for an upgrade.
	RolledBack string
	// Cloexec is set when every fd of State was made close-on-exec at
	// once (close_range).
	Cloexec bool

	data      []byte
	previous  int // the previous binary's fd, or -1
	gcPercent int
	gcOff     bool
}

// FailDecode and FailCheckDecode, set by test builds only (cmd/sockd's
// testFault), make ReadInherited, and CheckState, act as if the state
// did not decode: to check the adoption by matching, and the refusal.
var FailDecode, FailCheckDecode bool

// ReadInherited returns what the previous image handed over, or nil if
// this is a fresh start. It unsets the variables and closes the state
// fd. The garbage collector is off until GCOn: the new image restores
// the units first. An error means the state fd could not be read at
// all; a state that does not decode is Inherited.DecodeErr.
func ReadInherited() (*Inherited, error) {
	v, ok := os.LookupEnv(StateEnv)
	if !ok {
		return nil, nil
	}
	start := time.Now()
	in := &Inherited{previous: -1, RolledBack: os.Getenv(RollbackEnv)}
	for _, k := range []string{StateEnv, PreviousEnv, RollbackEnv} {
		defer os.Unsetenv(k)
	}
	if p, err := strconv.Atoi(os.Getenv(PreviousEnv)); err == nil && p > 2 {
		unix.CloseOnExec(p)
		in.previous = p
	}
	data, err := readState(v)
	if err != nil {
		return in, err
	}
	in.data = data
	in.gcPercent, in.gcOff = debug.SetGCPercent(-1), true
	in.State, in.DecodeErr = Decode(data)
	if FailDecode && in.RolledBack == "" {
		in.State, in.DecodeErr = nil, errors.New("injected fault (a test build)")
	}
	if in.DecodeErr != nil {
		in.Orphans, in.unknown = inheritedFDs()
	} else {
		in.Cloexec = closeOnExec(in.State.fds())
		if e := in.State.OldEpoll; e > 2 && isEpoll(e) {
			unix.CloseOnExec(e)
		} else {
			in.State.OldEpoll = 0
		}
	}
	in.ReadTime = time.Since(start)
	return in, nil
}

// readState reads the memfd whose number is v, and closes it.
func readState(v string) ([]byte, error) {
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("$%s=%q: not an fd", StateEnv, v)
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "upgrade-state")
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("upgrade state: %w", err)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("upgrade state: %w", err)
	}
	return data, nil
}

// fds returns every fd the state names.
func (s *State) fds() []int {
	var fds []int
	for _, sv := range s.Units {
		fds = append(fds, sv.FDs()...)
	}
	return fds
}

// GCOn turns the garbage collector on again.
func (in *Inherited) GCOn() {
	if in != nil && in.gcOff {
		debug.SetGCPercent(in.gcPercent)
		in.gcOff = false
	}
}

// CloseOldEpoll closes the previous image's epoll descriptor: once this
// image watches the listeners, so that freeing it does not delay them.
func (in *Inherited) CloseOldEpoll() {
	if in != nil && in.State != nil && in.State.OldEpoll > 0 {
		unix.Close(in.State.OldEpoll)
		in.State.OldEpoll = 0
	}
}

// Forget closes the previous binary's fd: this image runs, no rollback.
func (in *Inherited) Forget() {
	if in != nil && in.previous >= 0 {
		unix.Close(in.previous)
		in.previous = -1
	}
}

// ErrNoRollback is Rollback's error when there is nothing to roll back
// to: no previous binary, or this image is itself a rollback.
var ErrNoRollback = errors.New("no previous binary to roll back to")

// Rollback re-executes the previous binary with the state this image
// inherited, for an image that cannot start (its control socket does
// not bind, its runtime directory is gone, …): the units' fds are made
// inheritable again and nothing else was changed. It returns only on
// failure. Call it before any unit was restored, with the reaper
// frozen.
func (in *Inherited) Rollback(reason string, args []string) error {
	if in == nil || in.previous < 0 || in.RolledBack != "" {
		return ErrNoRollback
	}
	fds := in.unknown
	if in.State != nil {
		fds = in.State.fds()
		if in.State.OldEpoll > 0 {
			fds = append(fds, in.State.OldEpoll)
		}
	}
	for _, fd := range fds {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("rollback: fd %d: %w", fd, err)
		}
	}
	argv0 := "sockd"
	if in.State != nil && in.State.Binary != "" {
		argv0 = in.State.Binary // the previous image's, for ps
	}
	argv := append([]string{argv0}, args...)
	return execState(fmt.Sprintf("/proc/self/fd/%d", in.previous), argv, in.data, -1, reason)
}

// closeOnExec makes fds close-on-exec, as the code that takes each one
// over would, but with one close_range(2) per run of consecutive fds
// instead of one fcntl(2) per fd: at 10,000 listeners, while none is
// watched. Only those fds: one sockd inherited from its parent stays as
// it was. It reports whether it did (not on a kernel before 5.11).
func closeOnExec(fds []int) bool {
	maxFD := 0
	for _, fd := range fds {
		maxFD = max(maxFD, fd)
	}
	mine := make([]bool, maxFD+2)
	for _, fd := range fds {
		if fd > 2 {
			mine[fd] = true
		}
	}
	for lo := 0; lo <= maxFD; lo++ {
		if !mine[lo] {
			continue
		}
		hi := lo
		for mine[hi+1] {
			hi++
		}
		if err := unix.CloseRange(uint(lo), uint(hi), unix.CLOSE_RANGE_CLOEXEC); err != nil {
			return false
		}
		lo = hi
	}
	return true
}

// isEpoll reports whether fd is an epoll instance.
func isEpoll(fd int) bool {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && link == "anon_inode:[eventpoll]"
}

// inheritedFDs makes every fd above 2 that this image inherited (not
// close-on-exec: the Go runtime's own fds are) close-on-exec, and
// returns the sockets among them and all of them.
func inheritedFDs() (sockets, all []int) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, nil
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		unix.CloseOnExec(fd)
		all = append(all, fd)
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			sockets = append(sockets, fd)
		}
	}
	return sockets, all
}
