package supervise

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/notify"
	"github.com/sockd/sockd/units"
)

// notifyMsg is what the service said over its NOTIFY_SOCKET.
type notifyMsg = notify.Message

// notifySocket is the private NOTIFY_SOCKET of one service process
// (sd_notify(3)): one datagram socket per start, so that a message is
// attributed by the socket it arrives on, and checked against
// NotifyAccess= by the sender's SCM_CREDENTIALS pid when it is received,
// while the sender still exists (systemd.service(5)).
type notifySocket struct {
	path   string
	recv   *notify.Receiver
	c      chan notifyMsg
	done   chan struct{}
	access units.NotifyAccess

	mainPID atomic.Int64  // the main process, once spawned
	known   chan struct{} // closed once mainPID is set
	setOnce sync.Once

	mu      sync.Mutex
	control map[int]bool // the Exec*= commands running now (NotifyAccess=exec)
}

func newNotifySocket(access units.NotifyAccess) *notifySocket {
	return &notifySocket{
		c: make(chan notifyMsg, 16), done: make(chan struct{}), known: make(chan struct{}),
		access: access, control: map[int]bool{},
	}
}

// openNotify creates the socket for the next start of the service, at a
// name no one can guess (notify.Config.Prefix): an abstract name that
// another user could bind first would keep the service from starting.
func (u *Unit) openNotify(svc *units.Service) (*notifySocket, error) {
	n := newNotifySocket(svc.EffectiveNotifyAccess())
	recv, err := notify.Listen(notify.Config{
		Prefix: u.deps.NotifyDir + "/" + u.cfg.Name + ".",
		Log:    u.log,
		Allow:  n.allowed,
		Handle: n.deliver,
	})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	n.recv, n.path = recv, recv.Addr()
	return n, nil
}

// adoptNotify is openNotify for a socket the previous image created, for
// the main process pid it adopted.
func (u *Unit) adoptNotify(path string, fd, pid int) (*notifySocket, error) {
	n := newNotifySocket(u.cfg.Service.EffectiveNotifyAccess())
	n.setMain(pid)
	recv, err := notify.Listen(notify.Config{Path: path, FD: fd, Log: u.logger(), Allow: n.allowed, Handle: n.deliver})
	if err != nil {
		return nil, err
	}
	n.recv = recv
	return n, nil
}

// setMain records the main process's pid, which NotifyAccess=main and
// exec accept. Messages that arrive before it is known wait for it.
func (n *notifySocket) setMain(pid int) {
	if n == nil {
		return
	}
	n.mainPID.Store(int64(pid))
	n.setOnce.Do(func() { close(n.known) })
}

// controlStarted and controlDone track the Exec*= commands that run while
// the socket is open, whose messages NotifyAccess=exec accepts.
func (n *notifySocket) controlStarted(pid int) {
	n.mu.Lock()
	n.control[pid] = true
	n.mu.Unlock()
}

func (n *notifySocket) controlDone(pid int) {
	n.mu.Lock()
	delete(n.control, pid)
	n.mu.Unlock()
}

// allowed is the receiver's check of a sender's pid against
// NotifyAccess=; it runs on the receiver's goroutine. sockd itself may
// always send: drainNotify's marker.
func (n *notifySocket) allowed(pid int) bool {
	switch {
	case pid == os.Getpid():
		return true
	case n.access == units.NotifyAccessNone:
		return false
	}
	select {
	case <-n.known:
	case <-n.done:
		return false
	}
	main := int(n.mainPID.Load())
	switch n.access {
	case units.NotifyAccessMain:
		return pid == main
	case units.NotifyAccessExec:
		n.mu.Lock()
		defer n.mu.Unlock()
		return pid == main || n.control[pid]
	case units.NotifyAccessAll:
		n.mu.Lock()
		control := n.control[pid]
		n.mu.Unlock()
		return control || inSession(pid, main)
	}
	return false
}

func (n *notifySocket) messages() <-chan notifyMsg { return n.c }

// deliver is the receiver's Handle: it queues m for the unit's goroutine.
func (n *notifySocket) deliver(m notifyMsg) {
	select {
	case n.c <- m:
	case <-n.done:
		closeFiles(m.Files)
	}
}

// close stops the receiver and drops messages not yet read.
func (n *notifySocket) close() {
	close(n.done)
	n.recv.Close()
	for {
		select {
		case m := <-n.c:
			closeFiles(m.Files)
		default:
			return
		}
	}
}

// controlStarted and controlDone tell the main process's notify socket,
// if any, about an Exec*= command sockd runs (NotifyAccess=exec).
func (u *Unit) controlStarted(pid int) {
	if u.main != nil && u.main.notify != nil {
		u.main.notify.controlStarted(pid)
	}
}

func (u *Unit) controlDone(pid int) {
	if u.main != nil && u.main.notify != nil {
		u.main.notify.controlDone(pid)
	}
}

// fromService reports whether a message read from the main process's
// socket may be acted on: the receiver already checked its sender
// against NotifyAccess= on receipt, so what is left is that the service
// still has a main process.
func (u *Unit) fromService(pid int) bool {
	return u.main != nil && pid > 0
}

// inService reports whether pid is the main process or a member of the
// service's session (each service is its own session, see
// internal/spawn): the processes MAINPID= may name.
func (u *Unit) inService(pid int) bool {
	if u.main == nil {
		return false
	}
	leader := u.main.session
	if leader == 0 {
		leader = u.main.pid
	}
	return pid == u.main.pid || inSession(pid, leader)
}

// inSession reports whether pid is the process leader or a member of
// its session.
func inSession(pid, leader int) bool {
	if pid <= 0 || leader <= 0 {
		return false
	}
	if pid == leader {
		return true
	}
	sid, err := unix.Getsid(pid)
	return err == nil && sid == leader
}

// notified applies a notify message from the service.
func (u *Unit) notified(msg notifyMsg) {
	if !u.fromService(msg.PID) {
		u.log.Warn("ignoring notification from a process outside the service", "pid", msg.PID)
		closeFiles(msg.Files)
		return
	}
	if len(msg.Files) > 0 || msg.FDStoreRemove {
		u.storeNotified(msg) // fdstore.go; owns msg.Files
	}
	u.watchdogNotified(msg)
	u.mainPIDNotified(msg) // types.go
	u.mu.Lock()
	defer u.mu.Unlock()
	if msg.Status != nil {
		u.status.StatusText = *msg.Status
	}
	if msg.MainPID > 0 {
		u.status.NotifiedMainPID = msg.MainPID
	}
	switch {
	case msg.Stopping:
		u.log.Info("service is stopping", "service", u.cfg.Service.Name)
	case msg.Reloading:
		u.log.Info("service is reloading", "service", u.cfg.Service.Name)
	}
}

func closeFiles(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
