package upgrade

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/handoff"
	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// A takeover: a new sockd started next to a running one (`sockd
// --takeover`, e.g. in a new container sharing the runtime directory)
// asks RUNTIME_DIR/handoff.sock for every listener and fd store entry
// (handoff.OpTakeover), restores its units from them, and commits — or
// aborts, and the old sockd goes on. This is the new sockd's side; the
// old one's is internal/daemon's (takeover.go).

// HandoffSocketName is the name of the handoff socket in the runtime
// directory.
const HandoffSocketName = "handoff.sock"

// TakeoverTimeout bounds the whole takeover conversation: the new sockd
// loads its units in between.
const TakeoverTimeout = 60 * time.Second

// Takeover is the new sockd's side of a takeover conversation.
type Takeover struct {
	// State holds the listeners and fd store entries received, by unit,
	// and the old sockd's generation; no settings and no processes.
	State *State
	conn  *net.UnixConn
}

// StartTakeover asks the sockd serving runtimeDir/handoff.sock for its
// listeners and fd store entries; Commit or Abort then ends the
// conversation.
func StartTakeover(ctx context.Context, runtimeDir string) (*Takeover, error) {
	path := filepath.Join(runtimeDir, HandoffSocketName)
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return nil, fmt.Errorf("takeover: %w", err)
	}
	conn := c.(*net.UnixConn)
	conn.SetDeadline(time.Now().Add(TakeoverTimeout))
	files, err := handoff.Exchange(conn, handoff.Request{Op: handoff.OpTakeover})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("takeover: %s: %w", path, err)
	}
	st := &State{Units: map[string]*supervise.Saved{}}
	// The generation count goes on from the old sockd's, if it says.
	if info, err := control.NewClient(filepath.Join(runtimeDir, control.SocketName)).Daemon(ctx); err == nil {
		st.Generation, st.Started, st.Binary, st.Version = info.Generation, info.Started, info.Binary, info.Version
	}
	for _, f := range files {
		s := st.Units[f.Unit]
		if s == nil {
			s = &supervise.Saved{}
			st.Units[f.Unit] = s
		}
		if f.Kind == handoff.KindStored {
			s.FDStore = append(s.FDStore, supervise.SavedFD{Name: f.Name, FD: f.Fd})
		} else {
			s.Listeners = append(s.Listeners, supervise.SavedListener{Addr: f.Addr, FD: f.Fd})
		}
	}
	return &Takeover{State: st, conn: conn}, nil
}

// Commit tells the old sockd to let go and waits until it has stopped
// watching and released the control socket. After an error the old
// sockd may still be serving: do not serve.
func (t *Takeover) Commit() error {
	if t == nil || t.conn == nil {
		return nil
	}
	c := t.conn
	defer c.Close()
	t.conn = nil
	if err := handoff.SendRequest(c, handoff.Request{Op: handoff.OpCommit}); err != nil {
		return fmt.Errorf("takeover: commit: %w", err)
	}
	if _, err := handoff.Receive(c); err != nil {
		return fmt.Errorf("takeover: waiting for the old sockd to let go: %w", err)
	}
	return nil
}

// Abort tells the old sockd to go on as before, and closes every fd
// received that no unit took.
func (t *Takeover) Abort(reason string) {
	if t == nil {
		return
	}
	if t.conn != nil {
		handoff.SendRequest(t.conn, handoff.Request{Op: handoff.OpAbort, Reason: reason})
		t.conn.Close()
		t.conn = nil
	}
	for _, s := range t.State.Units {
		s.Close()
	}
	t.State.Units = nil
}

// CheckByTakeover is `sockd --upgrade-check` for a sockd that passes no
// state (one older than FormatKeyed): it takes over the listeners of the
// sockd serving runtimeDir, matches them to the units load reads, and
// aborts. It returns what it found, or why this binary cannot take over.
func CheckByTakeover(ctx context.Context, runtimeDir string, load func() *unitdir.Result, version string) (CheckResult, error) {
	res := CheckResult{Version: version, StateFormats: Formats}
	t, err := StartTakeover(ctx, runtimeDir)
	if err != nil {
		return res, err
	}
	defer t.Abort("check only")
	loaded := load()
	if err := loaded.Err(); err != nil {
		var lines []string
		for _, e := range units.Errors(err) {
			lines = append(lines, e.Error())
		}
		return res, fmt.Errorf("%d unit(s) invalid:\n%s", len(loaded.Invalid), strings.Join(lines, "\n"))
	}
	res.Units = len(loaded.Units)
	for _, u := range loaded.Units {
		s := t.State.Units[u.Name]
		used := map[int]bool{}
		for _, l := range u.Socket.Listeners {
			found := false
			if s != nil {
				for i, sl := range s.Listeners {
					if ok, err := activation.Matches(sl.FD, l); !used[i] && err == nil && ok && sl.Addr == l.Address.String() {
						used[i], found = true, true
						break
					}
				}
			}
			if found {
				res.Adopted++
			} else {
				res.New++
			}
		}
		if s != nil {
			res.Stored += len(s.FDStore)
			res.Unused += len(s.Listeners) - len(used)
		}
	}
	res.OK = true
	return res, nil
}
