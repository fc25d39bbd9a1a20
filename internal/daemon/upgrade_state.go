package daemon

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// The upgrade state is what Upgrade writes into the memfd that crosses the
// execve. Two formats exist:
//
//   - 1: the Handover as one JSON document. At 10,000 units it is 18 MB
//     (every field of every unit's settings is named), and encoding it
//     and decoding it took about 170 + 215 ms, all of it while no image
//     watched the listeners.
//   - 2: stateMagic, then length-prefixed parts: the header (the
//     Handover without its units), the units' saved fds and processes
//     (stateHeader.UnitParts parts), and the units' settings, in parts
//     that are encoded before any unit is parked. Each part is a gob
//     stream of its own, so that the parts are encoded and decoded on
//     every CPU at once. 2.8 MB at 10,000 units.
//
// The old image writes format 2 only to a binary whose upgrade check says
// it reads it (CheckResult.StateFormats); a binary that does not say gets
// format 1, so upgrades and downgrades to versions that read only JSON
// keep working. ReadHandover reads both.

// stateFormatJSON and stateFormatParts are the formats of the upgrade
// state.
const (
	stateFormatJSON  = 1
	stateFormatParts = 2
)

// stateFormats are the formats this sockd reads, for CheckResult.
var stateFormats = []int{stateFormatJSON, stateFormatParts}

// stateMagic starts an upgrade state in format 2; a JSON document cannot
// start with it.
const stateMagic = "sockd upgrade state 2\n"

// stateHeader is the part of a Handover other than its units.
type stateHeader struct {
	Generation int
	Started    time.Time
	Binary     string
	Version    string
	Stopped    []string
	Units      int // how many units the units parts hold
	// UnitParts is how many units parts follow the header: compact ones
	// (appendSaved), then GobUnitParts in gob.
	UnitParts    int
	GobUnitParts int
	// OldEpoll is the old image's epoll descriptor, inherited for the new
	// image to close once it watches the listeners (closeOldEpoll); 0 if
	// none.
	OldEpoll int
}

// savedUnit is one unit in a units part.
type savedUnit struct {
	Name  string
	Saved *supervise.Saved
	// Listeners identify the unit's listening fds (listenerIDs).
	Listeners []fileID
}

// fileID identifies the open file behind an fd across the execve: the
// fd, and the device and inode number fstat(2) gave the old image. The
// new image adopts an inherited listener whose fd still has them without
// inspecting it further (activation.Matches: three system calls, a
// quarter of the time the new image took to restore 10,000 units): it
// is the socket the old image had bound or adopted, and checked, for
// the same unit with the same settings.
type fileID struct {
	FD       int
	Dev, Ino uint64
}

// listenerIDs identifies ls; a listener that fstat fails on is left out
// (the new image then checks it with activation.Matches).
func listenerIDs(ls []*activation.Listener) []fileID {
	ids := make([]fileID, 0, len(ls))
	for _, l := range ls {
		fd := l.Fd()
		var st unix.Stat_t
		if fd < 0 || unix.Fstat(fd, &st) != nil {
			continue
		}
		ids = append(ids, fileID{FD: fd, Dev: st.Dev, Ino: st.Ino})
	}
	return ids
}

// sameFile reports whether fd is the file ids says it is.
func sameFile(fd int, ids []fileID) bool {
	for _, id := range ids {
		if id.FD != fd {
			continue
		}
		var st unix.Stat_t
		return unix.Fstat(fd, &st) == nil && st.Dev == id.Dev && st.Ino == id.Ino
	}
	return false
}

// stateFormatFor returns the format to write for a new binary whose
// check said it reads formats.
func stateFormatFor(formats []int) int {
	for _, f := range formats {
		if f == stateFormatParts {
			return stateFormatParts
		}
	}
	return stateFormatJSON
}

// decodeSplit decodes gob parts of []T, in parallel.
func decodeSplit[T any](parts [][]byte) ([][]T, error) {
	out := make([][]T, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			if err := gob.NewDecoder(bytes.NewReader(p)).Decode(&out[i]); err != nil {
				errs[i] = fmt.Errorf("part %d: %w", i+1, err)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// encodeParts writes h in format 2. st.configs are the parts configParts
// made of the settings of h's units; a unit whose Saved.Config is not
// among them (none, if the settings did not change since) gets it in its
// units part.
func encodeParts(w io.Writer, h *Handover, st stateWriter) error {
	// The units parts carry every Saved without the settings that the
	// config parts have.
	var compact, other []savedUnit
	for name, s := range h.Units {
		c := *s
		if c.Config != nil && st.encoded[name] == c.Config {
			c.Config = nil
		}
		u := savedUnit{Name: name, Saved: &c, Listeners: st.ids[name]}
		if compactSaved(&c) {
			compact = append(compact, u)
		} else {
			other = append(other, u)
		}
	}
	unitParts := encodeRecords(compact, func(b []byte, u *savedUnit) []byte {
		return appendSaved(b, u.Name, u.Saved, u.Listeners)
	})
	gobParts := 0
	if len(other) > 0 {
		var ob bytes.Buffer
		if err := gob.NewEncoder(&ob).Encode(other); err != nil {
			return fmt.Errorf("encoding the units' state: %w", err)
		}
		unitParts, gobParts = append(unitParts, ob.Bytes()), 1
	}
	hdr := stateHeader{
		Generation: h.Generation, Started: h.Started, Binary: h.Binary,
		Version: h.Version, Stopped: h.Stopped, Units: len(h.Units),
		UnitParts: len(unitParts), GobUnitParts: gobParts, OldEpoll: h.oldEpoll,
	}
	var hb bytes.Buffer
	if err := gob.NewEncoder(&hb).Encode(hdr); err != nil {
		return fmt.Errorf("encoding the state header: %w", err)
	}
	if _, err := io.WriteString(w, stateMagic); err != nil {
		return err
	}
	parts := append(append([][]byte{hb.Bytes()}, unitParts...), st.configs...)
	for _, p := range parts {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// decodeState decodes an upgrade state in either format.
func decodeState(data []byte) (*Handover, error) {
	rest, ok := bytes.CutPrefix(data, []byte(stateMagic))
	if !ok {
		var h Handover
		if err := json.Unmarshal(data, &h); err != nil {
			return nil, err
		}
		if h.Format != handoverFormat {
			return nil, fmt.Errorf("format %d, this sockd reads %d", h.Format, handoverFormat)
		}
		return &h, nil
	}
	var parts [][]byte
	for len(rest) > 0 {
		if len(rest) < 8 {
			return nil, errors.New("truncated part length")
		}
		n := binary.LittleEndian.Uint64(rest)
		rest = rest[8:]
		if n > uint64(len(rest)) {
			return nil, errors.New("truncated part")
		}
		parts, rest = append(parts, rest[:n]), rest[n:]
	}
	if len(parts) < 1 {
		return nil, errors.New("no header")
	}
	var hdr stateHeader
	if err := gob.NewDecoder(bytes.NewReader(parts[0])).Decode(&hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if hdr.UnitParts < 0 || hdr.GobUnitParts < 0 || hdr.GobUnitParts > hdr.UnitParts || 1+hdr.UnitParts > len(parts) {
		return nil, fmt.Errorf("%d parts, the header announces %d units parts", len(parts), hdr.UnitParts)
	}
	h := &Handover{
		Format: handoverFormat, Generation: hdr.Generation, Started: hdr.Started,
		Binary: hdr.Binary, Version: hdr.Version, Stopped: hdr.Stopped,
		Units: make(map[string]*supervise.Saved, hdr.Units),
		ids:   make(map[string][]fileID, hdr.Units),
	}
	if hdr.OldEpoll > 2 && isEpoll(hdr.OldEpoll) {
		unix.CloseOnExec(hdr.OldEpoll)
		h.oldEpoll = hdr.OldEpoll
	}
	// Every part at once: the units parts next to the config parts.
	split := 1 + hdr.UnitParts
	var cfgs []*units.Unit
	var cfgErr error
	cfgDone := make(chan struct{})
	go func() {
		defer close(cfgDone)
		cfgs, cfgErr = decodeConfigs(parts[split:])
	}()
	compactEnd := split - hdr.GobUnitParts
	saved, err := decodeParts(parts[1:compactEnd], (*decoder).saved)
	if err == nil {
		var other [][]savedUnit
		other, err = decodeSplit[savedUnit](parts[compactEnd:split])
		saved = append(saved, other...)
	}
	<-cfgDone
	if err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	if cfgErr != nil {
		return nil, fmt.Errorf("units' settings: %w", cfgErr)
	}
	for _, part := range saved {
		for _, u := range part {
			if u.Saved == nil {
				return nil, fmt.Errorf("units: unit %q: nothing saved", u.Name)
			}
			h.Units[u.Name] = u.Saved
			if len(u.Listeners) > 0 {
				h.ids[u.Name] = u.Listeners
			}
		}
	}
	if len(h.Units) != hdr.Units {
		return nil, fmt.Errorf("units: %d, the header announces %d", len(h.Units), hdr.Units)
	}
	for _, c := range cfgs {
		if s := h.Units[c.Name]; s != nil && s.Config == nil {
			s.Config = c
		}
	}
	return h, nil
}

// isEpoll reports whether fd is an epoll instance.
func isEpoll(fd int) bool {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && link == "anon_inode:[eventpoll]"
}
