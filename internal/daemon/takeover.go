package daemon

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/handoff"
	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units"
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
// The new sockd's side is internal/upgrade's (StartTakeover); this file
// is the old sockd's.

// takeoverTimeout bounds the whole takeover conversation: the new sockd
// loads its units in between.
const takeoverTimeout = upgrade.TakeoverTimeout

// Takeover asks the sockd serving runtimeDir for its listeners and fd
// store entries (step 1, upgrade.StartTakeover). Pass the result as
// Config.Handover; Restore adopts from it, and Commit then ends the
// conversation.
func Takeover(ctx context.Context, runtimeDir string) (*Handover, error) {
	t, err := upgrade.StartTakeover(ctx, runtimeDir)
	if err != nil {
		return nil, err
	}
	return &Handover{State: t.State, takeover: t}, nil
}

// Commit tells the old sockd to let go (step 2) and waits until it has
// stopped watching and released the control socket. After an error the
// old sockd may still be serving: do not serve.
func (h *Handover) Commit() error { return h.takeover.Commit() }

// Abort tells the old sockd to go on as before, and closes every fd of h.
func (h *Handover) Abort(reason string) { h.takeover.Abort(reason) }

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
