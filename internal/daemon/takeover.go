package daemon

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/handoff"
	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// Takeover: a new sockd started next to a running one (`sockd --takeover`,
// e.g. in a new container sharing the runtime directory) takes its place
// without refusing a connection:
//
//  1. The new sockd asks handoff.sock for every listener and fd store
//     entry (handoff.OpTakeover) and loads its units, adopting them.
//  2. It answers commit (or abort, if its units do not load: the old
//     sockd then goes on as before). On commit the old sockd parks every
//     unit — it stops acting on the listeners — closes its control
//     socket, releasing its lock, and says so with an empty set of files.
//  3. The new sockd takes the control socket and watches the listeners;
//     the old one stops its services with their KillSignal= (they drain
//     while the new generation already accepts from the same queues),
//     closes its copies of the listeners without removing any socket
//     node, and exits.
//
// `sockd --upgrade-check` run by a sockd that passes no state (one older
// than upgrade.FormatKeyed) is step 1 followed by abort: the check of a
// new binary before an upgrade in place (RunTakeoverCheck).

// takeoverTimeout bounds the whole takeover conversation: the new sockd
// loads its units in between.
const takeoverTimeout = 60 * time.Second

// takeoverClient is the new sockd's side of the conversation.
type takeoverClient struct {
	conn *net.UnixConn
}

// Takeover asks the sockd serving runtimeDir/handoff.sock for its
// listeners and fd store entries (step 1). Pass the result as
// Config.Handover; Load adopts from it, and Commit then ends the
// conversation.
func Takeover(ctx context.Context, runtimeDir string) (*Handover, error) {
	path := filepath.Join(runtimeDir, HandoffSocketName)
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return nil, fmt.Errorf("takeover: %w", err)
	}
	conn := c.(*net.UnixConn)
	conn.SetDeadline(time.Now().Add(takeoverTimeout))
	files, err := handoff.Exchange(conn, handoff.Request{Op: handoff.OpTakeover})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("takeover: %s: %w", path, err)
	}
	st := &upgrade.State{Units: map[string]*supervise.Saved{}}
	h := &Handover{State: st, takeover: &takeoverClient{conn: conn}}
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
	return h, nil
}

// Commit tells the old sockd to let go (step 2) and waits until it has
// stopped watching and released the control socket. After an error the
// old sockd may still be serving: do not serve.
func (h *Handover) Commit() error {
	if h.takeover == nil {
		return nil
	}
	c := h.takeover.conn
	defer c.Close()
	h.takeover = nil
	if err := handoff.SendRequest(c, handoff.Request{Op: handoff.OpCommit}); err != nil {
		return fmt.Errorf("takeover: commit: %w", err)
	}
	if _, err := handoff.Receive(c); err != nil {
		return fmt.Errorf("takeover: waiting for the old sockd to let go: %w", err)
	}
	return nil
}

// Abort tells the old sockd to go on as before, and closes every fd of h.
func (h *Handover) Abort(reason string) {
	if h.takeover != nil {
		handoff.SendRequest(h.takeover.conn, handoff.Request{Op: handoff.OpAbort, Reason: reason})
		h.takeover.conn.Close()
		h.takeover = nil
	}
	if h.State != nil {
		for _, s := range h.State.Units {
			s.Close()
		}
		h.State.Units = nil
	}
}

// RunTakeoverCheck is `sockd --upgrade-check` for a sockd that passes no
// state: step 1 of a takeover on the units of dirs, then abort. It
// returns what it found, or why this binary cannot take over.
func RunTakeoverCheck(ctx context.Context, runtimeDir string, dirs []string, version string) (upgrade.CheckResult, error) {
	res := upgrade.CheckResult{Version: version, StateFormats: upgrade.Formats}
	h, err := Takeover(ctx, runtimeDir)
	if err != nil {
		return res, err
	}
	defer h.Abort("check only")
	loaded := unitdir.Load(dirs, units.DefaultSpecifierEnv())
	if err := loaded.Err(); err != nil {
		var lines []string
		for _, e := range units.Errors(err) {
			lines = append(lines, e.Error())
		}
		return res, fmt.Errorf("%d unit(s) invalid:\n%s", len(loaded.Invalid), strings.Join(lines, "\n"))
	}
	res.Units = len(loaded.Units)
	for _, u := range loaded.Units {
		s := h.State.Units[u.Name]
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

// takeoverFiles answers OpTakeover: the listeners of every running unit
// themselves (lent: d.mu is held until they are sent), then dups of its
// fd store entries.
func (d *Daemon) takeoverFiles() ([]handoff.File, error) {
	var files []handoff.File
	for name, r := range d.units {
		if r.stopped() {
			continue
		}
		cfg := r.sup.Config()
		for _, l := range r.sup.Listeners() {
			spec := l.Spec()
			files = append(files, handoff.File{
				Unit: cfg.Name, Name: l.Name, Kind: string(spec.Kind), Addr: spec.Address.String(),
				Fingerprint: units.Fingerprint(spec, &cfg.Socket), Fd: l.Fd(),
			})
		}
		stored, err := r.sup.StoredFiles(context.Background())
		if err != nil {
			closeStored(files)
			return nil, fmt.Errorf("unit %s: fd store: %w", name, err)
		}
		for _, e := range stored {
			files = append(files, handoff.File{Unit: name, Name: e.Name, Kind: handoff.KindStored, Fd: e.FD})
		}
	}
	return files, nil
}

// takeoverThen is the rest of the conversation with a new sockd (step 2
// and 3 on the old side): on commit, it lets go and stops this sockd.
func (s *handoffServer) takeoverThen(conn *net.UnixConn, peer unix.Ucred, req handoff.Request) error {
	if req.Op != handoff.OpTakeover {
		return nil
	}
	conn.SetDeadline(time.Now().Add(takeoverTimeout))
	next, err := handoff.ReceiveRequest(conn)
	if err != nil {
		s.log.Warn("takeover: the new sockd went away; going on", "pid", peer.Pid, "err", err)
		return nil
	}
	switch next.Op {
	case handoff.OpAbort:
		s.log.Info("takeover aborted by the new sockd; going on", "pid", peer.Pid, "reason", next.Reason)
		return nil
	case handoff.OpCommit:
	default:
		return fmt.Errorf("takeover: unexpected %q", next.Op)
	}
	s.log.Info("handing over to a new sockd", "pid", peer.Pid)
	if err := s.d.letGo(); err != nil {
		handoff.SendError(conn, err.Error())
		return fmt.Errorf("takeover: %w", err)
	}
	s.ln.Close() // the new sockd binds handoff.sock next; this conversation goes on
	return handoff.Send(conn, nil)
}

// letGo parks every unit, closes the control socket and makes Run stop
// the services and return, leaving the listeners' nodes in place.
func (d *Daemon) letGo() error {
	d.mu.Lock()
	parked, err := d.parkAll(context.Background())
	if err != nil {
		d.mu.Unlock()
		return err
	}
	d.takenOver = true
	d.mu.Unlock()
	_ = parked // parked units go on when Run's context is cancelled: they stop their services
	if stop := d.stopControl; stop != nil {
		stop()
	}
	if d.cancelRun != nil {
		d.cancelRun()
	}
	return nil
}

// closeStored closes the fd store dups among files.
func closeStored(files []handoff.File) {
	for i := range files {
		if files[i].Kind == handoff.KindStored {
			handoff.CloseAll(files[i : i+1])
		}
	}
}
