package supervise

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// Upgrades: sockd replaces its own image with execve(2) and keeps its
// pid, so its services stay its children. Before that, each unit is
// parked (Park): its goroutine stops acting on its listeners and on
// requests, and describes what must cross the execve — its listeners,
// its fd store, its running processes with their NOTIFY_SOCKETs and log
// pipes — as inheritable duplicates in a Saved. The new image rebuilds
// the unit from it with Restore. Until the execve a parked unit can be
// resumed (Parked.Resume), which closes the duplicates; nothing else
// changed.

// Saved is what a re-execution of sockd carries of one unit. In the old
// image, the listeners' and fd store's fds are the unit's own (marked
// inheritable only by Parked.Final, so that an upgrade needs no second
// fd per listener), and the other fds are inheritable duplicates. In the
// new image the Saved owns every fd until Restore takes them.
type Saved struct {
	// Config is the unit's settings, so that the new image can watch the
	// listeners again before it has read the unit files (it reloads
	// them next, as a reload does); nil from a takeover.
	Config    *units.Unit     `json:"config,omitempty"`
	Listeners []SavedListener `json:"listeners"`
	FDStore   []SavedFD       `json:"fdstore,omitempty"`
	// Main is the running main process of an Accept=no unit.
	Main *SavedProcess `json:"main,omitempty"`
	// Instances are the live instances of an Accept=yes unit.
	Instances []SavedInstance `json:"instances,omitempty"`
	// Failed is the result of a unit in the failed state
	// ("trigger-limit-hit", …); empty otherwise.
	Failed   string   `json:"failed,omitempty"`
	Counters Counters `json:"counters"`
}

// Counters are the counts of a unit's status that an upgrade keeps.
type Counters struct {
	Activations int `json:"activations"`
	Restarts    int `json:"restarts"`
	Accepted    int `json:"accepted"`
	Refused     int `json:"refused"`
}

// SavedListener is one listening socket.
type SavedListener struct {
	Addr string `json:"addr"` // as written in the unit
	FD   int    `json:"fd"`
}

// SavedFD is one fd store entry.
type SavedFD struct {
	Name string `json:"name"`
	FD   int    `json:"fd"`
	// NoPoll is set for an entry stored with FDPOLL=0.
	NoPoll bool `json:"no_poll,omitempty"`
}

// SavedProcess is a running service process.
type SavedProcess struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// NotifyPath and NotifyFD are its NOTIFY_SOCKET (Type=notify).
	NotifyPath string          `json:"notify_path,omitempty"`
	NotifyFD   int             `json:"notify_fd,omitempty"`
	Logs       []spawn.LogPipe `json:"logs,omitempty"`
	// Exited is its status, if it exited (and was reaped) after the
	// unit was parked: the new image handles the exit at once.
	Exited *reaper.Status `json:"exited,omitempty"`

	exit <-chan reaper.Status // in the old image, for Parked.Final
}

// SavedInstance is a live instance of an Accept=yes unit.
type SavedInstance struct {
	SavedProcess
	Name     string    `json:"name"`
	Instance string    `json:"instance"` // what %i expands to
	Remote   string    `json:"remote"`
	Source   string    `json:"source"`
	Since    time.Time `json:"since"`
	Env      []string  `json:"env"` // REMOTE_ADDR, REMOTE_PORT
}

// Processes returns the running processes of s: the main process and
// the instances.
func (s *Saved) Processes() []*SavedProcess {
	var procs []*SavedProcess
	if s.Main != nil {
		procs = append(procs, s.Main)
	}
	for i := range s.Instances {
		procs = append(procs, &s.Instances[i].SavedProcess)
	}
	return procs
}

// FDs returns every fd of s.
func (s *Saved) FDs() []int {
	fds := s.shared()
	for _, p := range s.Processes() {
		if p.NotifyFD > 0 {
			fds = append(fds, p.NotifyFD)
		}
		for _, l := range p.Logs {
			fds = append(fds, l.FD)
		}
	}
	return fds
}

// Close closes every fd of s (in the new image, which owns them all).
func (s *Saved) Close() {
	for _, fd := range s.FDs() {
		unix.Close(fd)
	}
}

// release closes the duplicates of s in the old image, and makes the
// unit's own fds close-on-exec again.
func (s *Saved) release() {
	for _, fd := range s.shared() {
		unix.CloseOnExec(fd)
	}
	for _, p := range s.Processes() {
		closeSavedProcess(p)
	}
}

// shared returns the fds of s that are the unit's own in the old image:
// the listeners and the fd store.
func (s *Saved) shared() []int {
	var fds []int
	for _, l := range s.Listeners {
		fds = append(fds, l.FD)
	}
	for _, e := range s.FDStore {
		fds = append(fds, e.FD)
	}
	return fds
}

// Parked is a unit whose goroutine waits for the execve, or to resume;
// or, parked by ParkIdle, a unit whose goroutine is asleep and does not
// start until then.
type Parked struct {
	Saved  *Saved
	resume chan struct{}
	idle   *Unit // set by ParkIdle
}

// ErrBusy is Park's error while the unit is starting an instance or
// draining an old one: try again.
var ErrBusy = errors.New("busy starting an instance or draining an old one; try again")

// Park parks the unit (see the comment at the top of this file). It
// waits until the unit's goroutine takes the request, which it does only
// between lifecycle steps: not while a service is starting or stopping.
func (u *Unit) Park(ctx context.Context) (*Parked, error) {
	p := &Parked{resume: make(chan struct{})}
	req := request{op: opPark, park: p, reply: make(chan error, 1)}
	if err := u.send(ctx, req); err != nil {
		return nil, fmt.Errorf("unit %s: %w", u.cfg.Name, err)
	}
	return p, nil
}

// Resume lets the unit go on, closes the duplicates and makes the unit's
// fds close-on-exec again.
func (p *Parked) Resume() {
	if u := p.idle; u != nil {
		p.Saved.release()
		u.unpark()
		return
	}
	close(p.resume)
}

// ParkIdle parks the unit as Park does if its goroutine is asleep (the
// unit is idle: no process, no timer, no instance), without waking it:
// the goroutine does not start again until Resume, and what wakes the
// unit meanwhile (a trigger, a request) waits for it. It returns false,
// and does nothing, if the goroutine runs or work waits for it: Park
// that unit. With 10,000 idle units, a Park each took 6–11 µs, and each
// parked unit waited for the others.
func (u *Unit) ParkIdle() (*Parked, bool, error) {
	u.mu.Lock()
	l := &u.life
	if l.awake || l.parked || l.parent == nil || l.stopped || len(l.reqs) > 0 || len(u.triggerC) > 0 || len(u.hupC) > 0 {
		u.mu.Unlock()
		return nil, false, nil
	}
	l.parked = true
	u.mu.Unlock()
	s, err := u.save(nil) // asleep: no instance to save
	if err != nil {
		u.unpark()
		return nil, true, fmt.Errorf("unit %s: %w", u.name, err)
	}
	return &Parked{Saved: s, idle: u}, true, nil
}

// unpark lets a unit parked by ParkIdle wake again, at once if work
// waits.
func (u *Unit) unpark() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.life.parked = false
	if len(u.life.reqs) > 0 || len(u.triggerC) > 0 || len(u.hupC) > 0 {
		u.wakeLocked()
	}
}

// Final marks the unit's listeners and fd store entries inheritable, and
// records the exit of the main process if the reaper delivered it after
// the unit was parked. Call it after freezing the reaper (reaper.Freeze),
// right before the execve; Resume undoes it.
func (p *Parked) Final() error {
	for _, fd := range p.Saved.shared() {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("fd %d: clearing FD_CLOEXEC: %w", fd, err)
		}
	}
	m := p.Saved.Main
	if m == nil || m.exit == nil {
		return nil
	}
	select {
	case st, ok := <-m.exit:
		if ok {
			m.Exited = &st
		}
	default:
	}
	return nil
}

// opPark parks the unit (Park).
const opPark Op = -2

// park serves opPark: it saves the unit, replies, and blocks until the
// upgrade resumes the unit (or ctx is done). The listeners stay armed on
// the watcher; a trigger meanwhile waits in triggerC.
func (u *Unit) park(ctx context.Context, req request, instances func() ([]SavedInstance, error)) {
	s, err := u.save(instances)
	if err != nil {
		req.reply <- err
		return
	}
	req.park.Saved = s
	req.reply <- nil
	select {
	case <-req.park.resume:
	case <-ctx.Done():
	}
	s.release()
	if m := s.Main; m != nil && m.Exited != nil && u.main != nil {
		u.mainExited(ctx, *m.Exited, true) // Final took it from the channel
	}
}

// save describes the unit with inheritable duplicates of its fds.
func (u *Unit) save(instances func() ([]SavedInstance, error)) (_ *Saved, err error) {
	if err := u.drainingErr(); err != nil { // graceful.go
		return nil, err
	}
	s := &Saved{Config: u.Config()} // not the result, which a failure sets to nil
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	for _, l := range u.listeners {
		fd := l.Fd()
		if fd < 0 {
			return nil, fmt.Errorf("listener %s: closed", l.Spec().Address)
		}
		s.Listeners = append(s.Listeners, SavedListener{Addr: l.Spec().Address.String(), FD: fd})
	}
	for _, e := range u.fdstore.entries {
		s.FDStore = append(s.FDStore, SavedFD{Name: e.info.Name, FD: e.fd, NoPoll: !e.poll})
	}
	if u.main != nil && !u.main.exited {
		m, err := saveProcess(u.main.proc, u.main.started, u.main.notify)
		if err != nil {
			return nil, err
		}
		s.Main = m
	}
	if instances != nil {
		if s.Instances, err = instances(); err != nil {
			return nil, err
		}
	}
	if u.state == StateFailed {
		s.Failed = u.Status().Result
	}
	st := u.Status()
	s.Counters = Counters{Activations: st.Activations, Restarts: st.Restarts, Accepted: st.Accepted, Refused: st.Refused}
	return s, nil
}

// saveProcess describes a running process.
func saveProcess(p *spawn.Process, started time.Time, ns *notifySocket) (*SavedProcess, error) {
	logs, err := p.ExportLogs()
	if err != nil {
		return nil, err
	}
	m := &SavedProcess{PID: p.Pid, Started: started, Logs: logs, exit: p.Exit}
	if ns != nil {
		fd, err := ns.recv.Export()
		if err != nil {
			spawn.CloseLogPipes(logs)
			return nil, err
		}
		m.NotifyPath, m.NotifyFD = ns.path, fd
	}
	return m, nil
}

// Restore makes the supervisor of cfg in a new image of sockd from what
// the previous image saved: listeners are the unit's listeners (adopted
// from s.Listeners or bound anew), the fd store and the running
// processes are taken over. Restore takes ownership of s's fds other
// than the listeners'.
func Restore(cfg *units.Unit, listeners []*activation.Listener, deps Deps, s *Saved) *Unit {
	u := New(cfg, listeners, deps)
	for _, e := range s.FDStore {
		unix.CloseOnExec(e.FD)
		u.fdstore.add([]int{e.FD}, e.Name, max(cfg.Service.FileDescriptorStoreMax, len(s.FDStore)), !e.NoPoll)
	}
	u.pollStored(u.fdstore.entries)
	u.publishFDStore()
	u.mu.Lock()
	u.status.Activations, u.status.Restarts = s.Counters.Activations, s.Counters.Restarts
	u.status.Accepted, u.status.Refused = s.Counters.Accepted, s.Counters.Refused
	u.mu.Unlock()
	if s.Main != nil {
		if cfg.Socket.Accept {
			u.logger().Warn("the unit is now Accept=yes; stopping the service the previous sockd ran", "pid", s.Main.PID)
			killGroup(s.Main.PID, cfg.Service.KillSignal)
			closeSavedProcess(s.Main)
		} else {
			u.main = u.adoptProcess(s.Main, cfg.Service.Name)
			u.setState(StateRunning, "success")
			u.mu.Lock()
			u.status.MainPID = s.Main.PID
			u.mu.Unlock()
		}
	}
	u.adopted = s.Instances
	if s.Failed != "" {
		u.setState(StateFailed, s.Failed)
	}
	return u
}

// adoptProcess takes over a process the previous image started.
func (u *Unit) adoptProcess(m *SavedProcess, service string) *process {
	exit := u.deps.Reaper.Adopt(m.PID)
	if m.Exited != nil {
		c := make(chan reaper.Status, 1)
		c <- *m.Exited
		close(c)
		exit = c
	}
	p := &process{proc: spawn.Adopt(m.PID, exit, m.Logs, u.deps.Log, service), pid: m.PID, started: m.Started}
	if m.NotifyFD > 0 {
		ns, err := u.adoptNotify(m.NotifyPath, m.NotifyFD, m.PID)
		if err != nil {
			u.logger().Error("adopting the service's NOTIFY_SOCKET", "path", m.NotifyPath, "err", err)
			unix.Close(m.NotifyFD)
		}
		p.notify = ns
	}
	u.logger().Info("took over the running service", "service", service, "pid", m.PID)
	return p
}

// closeSavedProcess closes the fds of a process that is not taken over.
func closeSavedProcess(m *SavedProcess) {
	if m.NotifyFD > 0 {
		unix.Close(m.NotifyFD)
	}
	spawn.CloseLogPipes(m.Logs)
}

// saveInstances saves the live instances of an Accept=yes unit; it fails
// with ErrBusy while one is still being started. It returns once every
// instance has left sockd's memory (exec'ed or exited): an instance
// started without waiting (accept_inline.go) still holds copies of
// sockd's fds until its exec, among them the control socket's lock,
// which the next image takes.
func (a *acceptor) saveInstances() ([]SavedInstance, error) {
	out, procs, err := a.saveInstancesLocked()
	for _, p := range procs {
		<-p.ExecDone()
	}
	return out, err
}

// saveInstancesLocked saves the live instances, and returns their
// processes.
func (a *acceptor) saveInstancesLocked() ([]SavedInstance, []*spawn.Process, error) {
	u := a.u
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []SavedInstance
	var procs []*spawn.Process
	for _, inst := range u.instances.byID {
		var err error
		var p *SavedProcess
		if inst.proc == nil {
			err = ErrBusy
		} else {
			p, err = saveProcess(inst.proc, inst.Since, nil)
		}
		if err != nil {
			for i := range out {
				closeSavedProcess(&out[i].SavedProcess)
			}
			return nil, nil, err
		}
		out = append(out, SavedInstance{
			SavedProcess: *p, Name: inst.Name, Instance: inst.instance,
			Remote: inst.Remote, Source: inst.source, Since: inst.Since, Env: inst.env,
		})
		procs = append(procs, inst.proc)
	}
	return out, procs, nil
}

// adoptInstances takes over the instances a previous image started:
// they count against the limits and are stopped with the unit, as the
// loop's own.
func (a *acceptor) adoptInstances() {
	u := a.u
	for _, s := range u.adopted {
		inst := &liveInstance{
			Instance: Instance{Name: s.Name, PID: s.PID, Remote: s.Remote, Since: s.Since},
			source:   s.Source, done: make(chan struct{}), instance: s.Instance, env: s.Env,
		}
		p := u.adoptProcess(&s.SavedProcess, s.Name)
		inst.proc = p.proc
		var ctx context.Context
		ctx, inst.cancel = context.WithCancel(a.ctx)
		inst.stop = inst.cancel
		u.mu.Lock()
		u.instances.insert(inst)
		u.status.Connections = len(u.instances.byID)
		u.mu.Unlock()
		job := instanceJob{cfg: u.cfg, inst: inst, instance: s.Instance, fd: -1, env: s.Env}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer a.end(job.inst)
			svc := job.cfg.Service.Instantiate(job.instance)
			env := append(job.env[:len(job.env):len(job.env)], "MAINPID="+strconv.Itoa(p.pid))
			a.logExit(&svc, job.inst, a.waitInstance(ctx, &svc, p.proc, env))
		}()
	}
	u.adopted = nil
}

// StoredFiles returns close-on-exec duplicates of the unit's fd store
// entries, in order (for a takeover); the caller owns the fds.
func (u *Unit) StoredFiles(ctx context.Context) ([]SavedFD, error) {
	var out []SavedFD
	req := request{op: opStoredFiles, stored: &out, reply: make(chan error, 1)}
	if err := u.send(ctx, req); err != nil {
		return nil, err
	}
	return out, nil
}

// opStoredFiles serves StoredFiles.
const opStoredFiles Op = -3

// dupStore duplicates the fd store's entries.
func (u *Unit) dupStore() ([]SavedFD, error) {
	var out []SavedFD
	for _, e := range u.fdstore.entries {
		fd, err := unix.FcntlInt(uintptr(e.fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			for _, s := range out {
				unix.Close(s.FD)
			}
			return nil, fmt.Errorf("fd store %s: %w", e.info.Name, err)
		}
		out = append(out, SavedFD{Name: e.info.Name, FD: fd})
	}
	return out, nil
}

// Release is Close for a unit a new sockd took over: the listeners are
// closed (the new sockd has its own copies) but their file system nodes
// stay, since they are its now.
func (u *Unit) Release() {
	u.Stop()
	u.clearFDStore()
	if u.Status().State == StateStopped {
		return
	}
	u.setState(StateStopped, "")
	for _, l := range u.listeners {
		l.Close()
	}
}
