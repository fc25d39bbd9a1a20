package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// Upgrading sockd in place (sockctl upgrade): sockd replaces its own image
// with execve(2), so its pid stays the same (it may be PID 1, or watched
// by a supervisor) and its services stay its children.
//
//  1. The new binary is checked first: it runs as `BINARY --upgrade-check`
//     next to the running sockd, asks handoff.sock for every listener
//     and fd store entry (handoff.OpTakeover), loads the unit
//     directories, matches each listener to one it received, binds
//     nothing, answers abort, and prints what it found. A binary that
//     does not start, does not speak the protocol, or finds an invalid
//     unit fails the upgrade: nothing changed (rollback).
//  2. The units' settings are encoded for the new image (prepareState,
//     upgrade_state.go) while every unit still serves. Then every unit
//     is parked (supervise.Unit.ParkIdle for an idle unit, without
//     waking it; Park otherwise), on every CPU: it stops acting on its
//     listeners — connections queue in the kernel — and saves what must
//     cross the execve as inheritable fds.
//  3. The reaper is frozen, so every exit not yet delivered is left for
//     the new image to reap; the saved state goes into a memfd whose fd
//     the new image finds in $SOCKD_UPGRADE_STATE, in the format the
//     new binary said it reads; sockd execs the new binary with its own
//     arguments.
//  4. The new image (ReadHandover, Load) adopts the listeners instead of
//     binding them, takes the running processes, their NOTIFY_SOCKETs,
//     log pipes and fd stores over, and watches again: from the settings
//     the old image saved, on every CPU, with no GC cycle until then.
//     It reads the unit files next and applies what changed, as a
//     reload does (reloadAfterUpgrade).
//
// If the execve itself fails, the reaper thaws and the units resume.

// UpgradeStateEnv names the variable that passes the state fd to the new
// image.
const UpgradeStateEnv = "SOCKD_UPGRADE_STATE"

// handoverFormat is the version of the Handover encoding.
const handoverFormat = 1

// Handover is what a new generation of sockd takes over from the previous
// one: by re-execution in place (ReadHandover) or by takeover next to it
// (Takeover).
type Handover struct {
	Format     int       `json:"format"`
	Generation int       `json:"generation"` // of the previous image
	Started    time.Time `json:"started"`    // when generation 1 started
	Binary     string    `json:"binary"`     // the previous image's binary
	Version    string    `json:"version"`
	// Units are the units' listeners, fd stores and, for a
	// re-execution, running processes, by unit name.
	Units map[string]*supervise.Saved `json:"units"`
	// Stopped are the units whose socket was stopped.
	Stopped []string `json:"stopped,omitempty"`

	takeover *takeoverClient // the conversation with the old sockd (Takeover)
	read     time.Duration   // how long ReadHandover took to decode it
	// gcPercent is the GC percent to go back to once the units are
	// restored and watched: ReadHandover turns the collector off until
	// then (gcOn). At 10,000 units it ran several cycles on a heap
	// growing from nothing, 12% of the CPU time the listeners were not
	// watched; the memory is returned after "sockd ready" (Run).
	gcPercent int
	gcOff     bool
	// ids identify the units' listeners, by unit (format 2).
	ids map[string][]fileID
	// cloexec is set when every inherited fd was made close-on-exec at
	// once (readHandover).
	cloexec bool
	// oldEpoll is the previous image's epoll descriptor, inherited in
	// format 2: it is closed once this image watches the listeners
	// (closeOldEpoll), so that freeing it does not delay them.
	oldEpoll int
}

// closeOnExec makes every fd of h close-on-exec, as the code that takes
// each one over would, but with one close_range(2) per run of
// consecutive fds instead of one fcntl(2) per fd: at 10,000 listeners,
// while none is watched. Only h's fds: an fd sockd inherited from its
// parent stays as it was. It reports whether it did (not on a kernel
// before 5.11).
func (h *Handover) closeOnExec() bool {
	maxFD := 0
	var fds []int
	for _, s := range h.Units {
		fds = append(fds, s.FDs()...)
	}
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

// closeOldEpoll closes the previous image's epoll descriptor, if h has
// it.
func (h *Handover) closeOldEpoll() {
	if h != nil && h.oldEpoll > 0 {
		unix.Close(h.oldEpoll)
		h.oldEpoll = 0
	}
}

// gcOn turns the garbage collector on again if ReadHandover turned it off.
func (h *Handover) gcOn() {
	if h != nil && h.gcOff {
		debug.SetGCPercent(h.gcPercent)
		h.gcOff = false
	}
}

// ReadHandover returns the state a previous image of sockd passed to this
// one when it re-executed itself, or nil if this is a fresh start. It
// unsets the variable and closes the state fd.
func ReadHandover() (*Handover, error) {
	v, ok := os.LookupEnv(UpgradeStateEnv)
	if !ok {
		return nil, nil
	}
	start := time.Now()
	gc := debug.SetGCPercent(-1)
	h, err := readHandover(v)
	if err != nil {
		debug.SetGCPercent(gc)
		return nil, err
	}
	h.gcPercent, h.gcOff = gc, true
	h.read = time.Since(start)
	return h, nil
}

// readHandover is ReadHandover once the variable is found.
func readHandover(v string) (*Handover, error) {
	os.Unsetenv(UpgradeStateEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("$%s=%q: not an fd", UpgradeStateEnv, v)
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
	h, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("upgrade state: %w", err)
	}
	h.cloexec = h.closeOnExec()
	return h, nil
}

// close closes every fd of h not taken over.
func (h *Handover) close() {
	h.closeOldEpoll()
	for _, s := range h.Units {
		s.Close()
	}
	h.Units = nil
}

// Info describes the running sockd for the control API.
func (d *Daemon) Info() control.Daemon {
	return control.Daemon{
		PID: os.Getpid(), Version: d.cfg.Version, Generation: d.generation,
		Binary: d.binary, Started: d.started, Upgraded: d.upgraded, Ready: d.ready.Load(),
	}
}

// execRequest is what Upgrade hands to Run to re-execute.
type execRequest struct {
	binary string
	parked map[string]*supervise.Parked
	done   func() // unlocks what Upgrade locked, if the execve fails
	// state is how to write the upgrade state (upgrade_state.go).
	state stateWriter
}

// stateWriter writes the upgrade state in the format the new binary
// reads; in format 2 the units' settings are encoded before they are
// parked.
type stateWriter struct {
	format  int
	configs [][]byte               // configParts of encoded
	encoded map[string]*units.Unit // the settings in configs, by unit
	ids     map[string][]fileID    // the units' listeners, by unit
}

// upgradeCheckTimeout bounds the new binary's check.
const upgradeCheckTimeout = 60 * time.Second

// parkTimeout bounds how long Upgrade waits for busy units to park.
const parkTimeout = 10 * time.Second

// Upgrade checks binary (empty: the binary sockd was started from) and
// parks every unit. It returns commit, which makes Run re-execute sockd
// with it; on error nothing changed.
func (d *Daemon) Upgrade(ctx context.Context, binary string) (control.Daemon, func(), error) {
	if !d.upgradeMu.TryLock() {
		return control.Daemon{}, nil, errors.New("upgrade: another upgrade is in progress")
	}
	if binary == "" {
		binary = d.binary
	}
	defer d.procs.work()() // encoding and parking run on every CPU
	info := d.Info()
	refuse := func(err error) (control.Daemon, func(), error) {
		d.upgradeMu.Unlock()
		d.log.Error("upgrade refused: sockd keeps running as it is", "binary", binary, "err", err)
		return info, nil, err
	}
	format, err := d.checkBinary(ctx, binary)
	if err != nil {
		return refuse(err)
	}
	d.mu.Lock()
	state, err := d.prepareState(format)
	if err != nil {
		d.mu.Unlock()
		return refuse(err)
	}
	start := time.Now()
	parked, err := d.parkAll(ctx)
	if err != nil {
		d.mu.Unlock()
		return refuse(err)
	}
	d.log.Info("upgrade: every unit parked", "units", len(parked), "duration", time.Since(start))
	req := execRequest{binary: binary, parked: parked, state: state, done: func() {
		for _, p := range parked {
			p.Resume()
		}
		d.mu.Unlock()
		d.upgradeMu.Unlock()
	}}
	commit := func() {
		select {
		case d.execC <- req:
		case <-d.runDone:
			req.done()
		}
	}
	return info, commit, nil
}

// prepareState encodes, for format 2, the settings of every unit before
// the units are parked: nothing changes them until the execve or the
// rollback (d.mu is held), and the encoding takes no time from the pause.
func (d *Daemon) prepareState(format int) (stateWriter, error) {
	w := stateWriter{format: format}
	if format != stateFormatParts {
		return w, nil
	}
	start := time.Now()
	cfgs := make([]*units.Unit, 0, len(d.units))
	w.encoded = make(map[string]*units.Unit, len(d.units))
	w.ids = make(map[string][]fileID, len(d.units))
	for name, r := range d.units {
		if r.stopped() {
			continue
		}
		c := r.sup.Config()
		cfgs = append(cfgs, c)
		w.encoded[name] = c
		w.ids[name] = listenerIDs(r.sup.Listeners())
	}
	var err error
	if w.configs, err = configParts(cfgs); err != nil {
		return w, fmt.Errorf("upgrade: %w", err)
	}
	d.log.Info("upgrade state: units' settings encoded", "units", len(cfgs), "parts", len(w.configs), "duration", time.Since(start))
	return w, nil
}

// parkAll parks every running unit. If one is busy starting or stopping,
// the ones already parked resume and the whole round is tried again a
// little later (for parkTimeout at most), so that no unit stays parked
// while another is waited for. On error every unit is running again.
// d.mu is held.
func (d *Daemon) parkAll(ctx context.Context) (map[string]*supervise.Parked, error) {
	ctx, cancel := context.WithTimeout(ctx, parkTimeout)
	defer cancel()
	for {
		parked, busy, err := d.parkRound(ctx)
		if err == nil {
			return parked, nil
		}
		if !busy || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// parkRound tries to park every running unit once, on every CPU; on
// failure it resumes the ones it parked and says whether the unit that
// failed was busy.
func (d *Daemon) parkRound(ctx context.Context) (map[string]*supervise.Parked, bool, error) {
	names := make([]string, 0, len(d.units))
	for name, r := range d.units {
		if !r.stopped() {
			names = append(names, name)
		}
	}
	ps := make([]*supervise.Parked, len(names))
	errs := make([]error, len(names))
	var failed atomic.Bool
	parallel(len(names), func(i int) {
		if failed.Load() {
			return
		}
		r := d.units[names[i]]
		p, ok, err := r.sup.ParkIdle() // an idle unit, without waking it
		if !ok {
			p, err = r.sup.Park(ctx)
		}
		ps[i], errs[i] = p, err
		if err != nil {
			failed.Store(true)
		}
	})
	if failed.Load() {
		var first error
		busy := false
		for i, p := range ps {
			if p != nil {
				p.Resume()
			}
			if errs[i] != nil && first == nil {
				first = fmt.Errorf("upgrade: parking unit %s.socket: %w", names[i], errs[i])
				busy = errors.Is(errs[i], supervise.ErrBusy)
			}
		}
		return nil, busy, first
	}
	parked := make(map[string]*supervise.Parked, len(names))
	for i, p := range ps {
		parked[names[i]] = p
	}
	return parked, false, nil
}

// execUpgrade re-executes sockd (step 3). It returns only if the execve
// failed, after resuming every unit.
func (d *Daemon) execUpgrade(req execRequest) {
	defer d.procs.work()() // until the execve, or its failure
	thaw := d.reaper.Freeze()
	h := &Handover{
		Format: handoverFormat, Generation: d.generation, Started: d.started,
		Binary: d.binary, Version: d.cfg.Version, Units: map[string]*supervise.Saved{},
	}
	ps := make([]*supervise.Parked, 0, len(req.parked))
	for name, p := range req.parked {
		ps = append(ps, p)
		h.Units[name] = p.Saved
	}
	for name, r := range d.units {
		if _, ok := req.parked[name]; !ok && r.stopped() {
			h.Stopped = append(h.Stopped, name)
		}
	}
	// Final is a system call per listener: on every CPU.
	errs := make([]error, len(ps))
	parallel(len(ps), func(i int) { errs[i] = ps[i].Final() })
	err := errors.Join(errs...)
	if err == nil && req.state.format == stateFormatParts {
		// The new image closes it once it watches (format 2 only: it
		// knows to).
		h.oldEpoll, err = d.watcher.Inheritable(true)
	}
	if err == nil && d.cfg.BeforeExec != nil {
		defer d.cfg.BeforeExec()() // the undo runs only if the execve failed
	}
	if err == nil {
		err = d.exec(req.binary, h, req.state)
	}
	if h.oldEpoll > 0 {
		d.watcher.Inheritable(false)
	}
	thaw()
	d.log.Error("upgrade failed: could not execute the new binary; sockd goes on as it is", "binary", req.binary, "err", err)
	req.done()
}

// exec writes h into a memfd, in the format st says, and execs binary
// with sockd's arguments.
func (d *Daemon) exec(binary string, h *Handover, st stateWriter) error {
	var buf bytes.Buffer
	if st.format == stateFormatParts {
		if err := encodeParts(&buf, h, st); err != nil {
			return err
		}
	} else if err := json.NewEncoder(&buf).Encode(h); err != nil {
		return err
	}
	data := buf.Bytes()
	fd, err := unix.MemfdCreate("sockd-upgrade-state", 0) // inherited
	if err != nil {
		return os.NewSyscallError("memfd_create", err)
	}
	defer unix.Close(fd)
	f := os.NewFile(uintptr(fd), "upgrade-state")
	if _, err := f.Write(data); err != nil {
		return err
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, UpgradeStateEnv+"=") })
	env = append(env, UpgradeStateEnv+"="+strconv.Itoa(fd))
	argv := append([]string{binary}, d.cfg.Args...)
	d.log.Info("re-executing sockd", "binary", binary, "generation", d.generation+1, "units", len(h.Units), "state_bytes", len(data), "state_format", st.format)
	return syscall.Exec(binary, argv, env)
}

// checkBinary runs binary --upgrade-check (step 1) and returns the format
// of the upgrade state to write for it, or why it cannot take over.
func (d *Daemon) checkBinary(ctx context.Context, binary string) (int, error) {
	if !filepath.IsAbs(binary) {
		return 0, fmt.Errorf("upgrade: binary %q: not an absolute path", binary)
	}
	if fi, err := os.Stat(binary); err != nil {
		return 0, fmt.Errorf("upgrade: binary: %w", err)
	} else if fi.Mode()&0o111 == 0 || !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("upgrade: binary %s: not an executable file", binary)
	}
	ctx, cancel := context.WithTimeout(ctx, upgradeCheckTimeout)
	defer cancel()
	args := []string{UpgradeCheckFlag, "--runtime-dir", d.cfg.RuntimeDir}
	for _, dir := range d.cfg.UnitDirs {
		args = append(args, "--units", dir)
	}
	if d.cfg.SystemdUnits {
		args = append(args, "--systemd-units")
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, UpgradeStateEnv+"=") })
	stdout, err := captureOutput(cmd, &cmd.Stdout)
	if err != nil {
		return 0, fmt.Errorf("upgrade: %w", err)
	}
	stderr, err := captureOutput(cmd, &cmd.Stderr)
	if err != nil {
		stdout.abandon()
		return 0, fmt.Errorf("upgrade: %w", err)
	}
	// The reaper is the only caller of wait4: the child is registered
	// with it, and cmd.Wait is never called.
	exitC, err := d.reaper.Start(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	stdout.started()
	stderr.started()
	if err != nil {
		stdout.abandon()
		stderr.abandon()
		return 0, fmt.Errorf("upgrade: starting %s: %w", binary, err)
	}
	defer cmd.Process.Release()
	var status string
	select {
	case st, ok := <-exitC:
		if !ok {
			stdout.abandon()
			stderr.abandon()
			return 0, errors.New("upgrade: sockd is stopping")
		}
		if !st.Wait.Exited() || st.Wait.ExitStatus() != 0 {
			status = st.String()
		}
	case <-ctx.Done():
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-exitC
		stdout.abandon()
		stderr.abandon()
		return 0, fmt.Errorf("upgrade: %s %s did not finish in %s", binary, UpgradeCheckFlag, upgradeCheckTimeout)
	}
	out, errOut := stdout.wait(ctx), stderr.wait(ctx)
	if status != "" {
		return 0, fmt.Errorf("upgrade: %s %s failed (%s): %s", binary, UpgradeCheckFlag, status, lastLines(strings.TrimSpace(errOut), 20))
	}
	var res CheckResult
	if err := json.Unmarshal(lastLine([]byte(out)), &res); err != nil || !res.OK {
		return 0, fmt.Errorf("upgrade: %s does not speak sockd's upgrade protocol: no check result in its output %q", binary, lastLines(strings.TrimSpace(out), 3))
	}
	d.log.Info("new binary checked", "binary", binary, "version", res.Version, "units", res.Units, "adopted", res.Adopted, "new_listeners", res.New, "fdstore", res.Stored, "state_formats", res.StateFormats)
	return stateFormatFor(res.StateFormats), nil
}

// capturedOutput reads what a child writes to one pipe, up to 64 KiB.
type capturedOutput struct {
	r, w    *os.File
	buf     bytes.Buffer
	reading bool
	done    chan struct{}
}

// captureOutput gives cmd a pipe as *dst (cmd.Stdout or cmd.Stderr).
func captureOutput(cmd *exec.Cmd, dst *io.Writer) (*capturedOutput, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*dst = w
	return &capturedOutput{r: r, w: w, done: make(chan struct{})}, nil
}

// started closes the write end in sockd and starts reading.
func (c *capturedOutput) started() {
	c.w.Close()
	c.reading = true
	go func() {
		defer close(c.done)
		io.Copy(&c.buf, io.LimitReader(c.r, 64<<10))
	}()
}

// wait returns the output once the pipe is closed, or what was read when
// ctx is done.
func (c *capturedOutput) wait(ctx context.Context) string {
	select {
	case <-c.done:
	case <-ctx.Done():
		c.r.Close()
		<-c.done
	}
	c.r.Close()
	return c.buf.String()
}

// abandon closes the pipe and waits for the reader.
func (c *capturedOutput) abandon() {
	c.w.Close()
	c.r.Close()
	if c.reading {
		<-c.done
	}
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// restoreUnits is Load for a new generation: the units saved in h get
// their listeners, fd stores and processes back; h's fds left over are
// closed, and the processes of units that are gone are stopped.
func (d *Daemon) restoreUnit(u *units.Unit, s *supervise.Saved) error {
	r, err := d.restoreRunning(u, s, nil)
	if err == nil {
		d.units[u.Name] = r
	}
	return err
}

// restoreRunning is restoreUnit without d.units: safe to call for
// several units at once. ids are what the previous image recorded of the
// unit's listeners, if anything (upgrade_state.go): a listener that is
// still the very socket is adopted without activation.Matches.
func (d *Daemon) restoreRunning(u *units.Unit, s *supervise.Saved, ids []fileID) (*running, error) {
	cloexec := d.cfg.Handover != nil && d.cfg.Handover.cloexec
	used := make([]bool, len(s.Listeners))
	ls, err := activation.BindOwning(u.Name+".socket", &u.Socket, func(l units.Listener) int {
		for i, sl := range s.Listeners {
			if used[i] || sl.Addr != l.Address.String() {
				continue
			}
			if sameFile(sl.FD, ids) || matches(sl.FD, l) {
				used[i] = true
				if !cloexec {
					unix.CloseOnExec(sl.FD)
				}
				return sl.FD
			}
		}
		return -1
	})
	for i, sl := range s.Listeners {
		if !used[i] {
			unix.Close(sl.FD) // on error BindOwning closed the adopted ones
		}
	}
	s.Listeners = nil
	if err != nil {
		d.dropSaved(u.Name, s)
		return nil, err
	}
	return &running{sup: supervise.Restore(u, ls, d.deps(), s)}, nil
}

// matches is activation.Matches, false on error.
func matches(fd int, l units.Listener) bool {
	ok, err := activation.Matches(fd, l)
	return err == nil && ok
}

// dropSaved stops the processes of a saved unit that this generation
// does not run, and closes its fds.
func (d *Daemon) dropSaved(name string, s *supervise.Saved) {
	for _, p := range s.Processes() {
		if p.Exited == nil {
			d.log.Warn("stopping a service of a unit this sockd does not run any more", "unit", name+".socket", "pid", p.PID)
			syscall.Kill(-p.PID, syscall.SIGTERM)
		}
	}
	s.Close()
}

// restore is Load for a unit that the handover describes: it reports
// whether it dealt with u, and the error if the unit failed.
func (d *Daemon) restore(u *units.Unit) (bool, error) {
	h := d.cfg.Handover
	if h == nil {
		return false, nil
	}
	if slices.Contains(h.Stopped, u.Name) {
		d.units[u.Name] = &running{sup: d.stoppedSupervisor(u)}
		return true, nil
	}
	s, ok := h.Units[u.Name]
	if !ok {
		return false, nil
	}
	delete(h.Units, u.Name)
	return true, d.restoreUnit(u, s)
}

// dropHandover deals with what no loaded unit took from h: it stops the
// processes of units that are gone and closes the fds.
func (d *Daemon) dropHandover(h *Handover) {
	for name, s := range h.Units {
		d.dropSaved(name, s)
	}
	h.Units = nil
}

// restoreSaved is Load after an upgrade in place, when the previous image
// saved every unit's settings: the units are restored from them without
// reading the unit files, which at 10,000 units took most of the time the
// listeners were not watched; Run reads the files next and applies what
// changed as a reload does (reloadAfterUpgrade). It reports whether it
// did. d.mu is held.
func (d *Daemon) restoreSaved() bool {
	h := d.cfg.Handover
	if h == nil || h.takeover != nil || len(h.Stopped) > 0 {
		return false
	}
	for _, s := range h.Units {
		if s.Config == nil {
			return false
		}
	}
	d.log.Info("taking over from the previous sockd", "previous_generation", h.Generation, "previous_binary", h.Binary, "previous_version", h.Version, "units", len(h.Units), "state_read", h.read)
	start := time.Now()
	saved := make([]*supervise.Saved, 0, len(h.Units))
	for _, s := range h.Units {
		saved = append(saved, s)
	}
	h.Units = nil
	// Each unit's restore is independent of the others' (its own fds,
	// its own supervisor), and most of it is system calls: on every CPU.
	restored := make([]*running, len(saved))
	parallel(len(saved), func(i int) {
		s := saved[i]
		r, err := d.restoreRunning(s.Config, s, h.ids[s.Config.Name])
		if err != nil {
			d.log.Error("unit failed", "unit", s.Config.Name+".socket", "err", err)
		}
		restored[i] = r
	})
	for i, r := range restored {
		if r != nil {
			d.units[saved[i].Config.Name] = r
		}
	}
	d.log.Info("units restored", "units", len(d.units), "duration", time.Since(start))
	d.unread = true
	return true
}

// parallel calls f(0) … f(n-1) on as many goroutines as there are CPUs,
// each taking a contiguous range, and returns when every call has.
func parallel(n int, f func(i int)) {
	inParts(n, partsFor(n), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i)
		}
	})
}

// partsFor is how many parts n items are split into for work on every
// CPU: one a CPU, but at least 256 items a part, and at least one part.
func partsFor(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/256))
}

// inParts splits 0 … n-1 into parts contiguous ranges and calls
// f(part, lo, hi) for each on a goroutine of its own; it returns when
// every call has.
func inParts(n, parts int, f func(part, lo, hi int)) {
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() { f(w, w*n/parts, (w+1)*n/parts) })
	}
	wg.Wait()
}

// reloadAfterUpgrade reads the unit files once Run supervises the units
// restored by restoreSaved, and applies the differences as a reload. The
// returned channel is closed when that is done.
func (d *Daemon) reloadAfterUpgrade(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if !d.unread {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		if err := d.Reload(ctx); err != nil {
			d.log.Error("reading the unit files after the upgrade", "err", err)
		}
		// Reading 10,000 unit files made about 100 MB of garbage: return
		// it now rather than keep it resident (and have the next
		// upgrade's execve unmap it while nothing is watched).
		debug.FreeOSMemory()
	}()
	return done
}
