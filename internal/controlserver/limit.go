package controlserver

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/logthrottle"
)

// Limits on open control connections, the shape of D-Bus's
// max_connections_per_user and sd-varlink's per-uid cap: one user
// cannot fill the server, and root and sockd's own user keep their own
// room within MaxConns.
const (
	// MaxConns is how many control connections may be open at once.
	MaxConns = 512
	// MaxConnsPerUID is how many of them one uid may hold, except root
	// and sockd's own uid, which only MaxConns bounds.
	MaxConnsPerUID = 64
)

// connLimit admits connections under MaxConns and MaxConnsPerUID, and
// answers the others 503 before closing them. http.Server's ConnState
// hook (track) tells it when an admitted connection ends.
type connLimit struct {
	net.Listener
	self     int // sockd's uid
	max, per int
	warn     *logthrottle.Throttle

	mu    sync.Mutex
	total int
	byUID map[int]int
	conns map[net.Conn]int // admitted connection → uid
}

func newConnLimit(ln net.Listener, self int, warn *logthrottle.Throttle) *connLimit {
	return &connLimit{Listener: ln, self: self, max: MaxConns, per: MaxConnsPerUID, warn: warn,
		byUID: map[int]int{}, conns: map[net.Conn]int{}}
}

// Accept returns the next connection within the limits.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid := -1
		if uc, ok := c.(*net.UnixConn); ok {
			if p, err := peerOf(uc); err == nil {
				uid = p.UID
			}
		}
		if why := l.admit(c, uid); why != "" {
			l.refuse(c, uid, why)
			continue
		}
		return c, nil
	}
}

// admit counts c in, or says why not.
func (l *connLimit) admit(c net.Conn, uid int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.max:
		return fmt.Sprintf("%d control connections are open, the most allowed", l.total)
	case uid != 0 && uid != l.self && l.byUID[uid] >= l.per:
		return fmt.Sprintf("uid %d has %d control connections open, the most one user may have", uid, l.byUID[uid])
	}
	l.total++
	l.byUID[uid]++
	l.conns[c] = uid
	return ""
}

// track is the http.Server's ConnState hook: it counts out connections
// that ended.
func (l *connLimit) track(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	uid, ok := l.conns[c]
	if !ok {
		return
	}
	delete(l.conns, c)
	l.total--
	if l.byUID[uid]--; l.byUID[uid] == 0 {
		delete(l.byUID, uid)
	}
}

// refuse answers 503 with a JSON error, as the API does, and closes c.
// The write cannot block for long: the connection is new and the answer
// small, and a deadline bounds it anyway.
func (l *connLimit) refuse(c net.Conn, uid int, why string) {
	l.warn.Warn("control connection refused uid "+strconv.Itoa(uid), "control connection refused", "uid", uid, "reason", why)
	body, _ := json.Marshal(control.Error{Status: http.StatusServiceUnavailable, Message: "too many connections: " + why})
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.Close()
}
