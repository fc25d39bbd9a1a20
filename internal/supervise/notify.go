package supervise

import (
	"fmt"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/notify"
)

// notifyMsg is what the service said over its NOTIFY_SOCKET.
type notifyMsg = notify.Message

// notifySocket is the private NOTIFY_SOCKET of one service process
// (sd_notify(3)): one datagram socket per start, so that a message is
// attributed by the socket it arrives on, and checked against the
// service's session by the sender's SCM_CREDENTIALS.
type notifySocket struct {
	path string
	recv *notify.Receiver
	c    chan notifyMsg
	done chan struct{}
}

// notifySeq makes each start's socket path unique.
var notifySeq atomic.Uint64

// openNotify creates the socket for the next start of the service.
func (u *Unit) openNotify() (*notifySocket, error) {
	n := &notifySocket{c: make(chan notifyMsg, 16), done: make(chan struct{})}
	n.path = filepath.Join(u.deps.NotifyDir, fmt.Sprintf("%s.%d", u.cfg.Name, notifySeq.Add(1)))
	recv, err := notify.Listen(notify.Config{
		Path:   n.path,
		Log:    u.log,
		Handle: n.deliver,
	})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	n.recv = recv
	return n, nil
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

// fromService reports whether pid is one of the service's processes: the
// main process or a member of its session (each service is its own
// session, see internal/spawn).
func (u *Unit) fromService(pid int) bool {
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
	if pid <= 0 {
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
