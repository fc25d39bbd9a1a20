package supervise

// notifyMsg is what the service said over its NOTIFY_SOCKET.
type notifyMsg struct {
	ready, reloading, stopping bool
	status                     string
	mainPID                    int
}

// notifySocket is the private NOTIFY_SOCKET of one service process.
type notifySocket struct {
	path string
	c    chan notifyMsg
}

func (n *notifySocket) messages() <-chan notifyMsg { return n.c }
func (n *notifySocket) close()                     {}

func (u *Unit) openNotify() (*notifySocket, error) {
	return &notifySocket{path: "/dev/null", c: make(chan notifyMsg)}, nil
}

// notified applies a notify message to the status.
func (u *Unit) notified(msg notifyMsg) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if msg.status != "" {
		u.status.StatusText = msg.status
	}
}
