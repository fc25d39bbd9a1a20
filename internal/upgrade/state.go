package upgrade

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// The state formats. The format number says what a reader must know;
// a build refuses, before anything changes, to upgrade to a binary that
// reads none of the formats it writes (Choose).
//
//   - FormatJSON (1): the State as one JSON document, units' settings
//     included. Every build reads and writes it: older builds (before
//     FormatKeyed) read only it, and a newer build writes it for them.
//     At 10,000 units it is 18 MB and takes about 200 ms each way.
//   - FormatKeyed (3): Magic, the format number, then length-prefixed
//     parts, each one document of the state encoding (codec.go): the
//     header, the units' saved fds and processes, then the units'
//     settings (a table of prototypes, then one small record per unit),
//     which are encoded before any unit is parked. Parts are encoded and
//     decoded on every CPU at once. About 2.5 MB at 10,000 units.
//
// Format 2 (gob parts with reflect paths by field index) is neither
// read nor written any more: a build that offers only 1 and 2 is given
// format 1.
const (
	FormatJSON  = 1
	FormatKeyed = 3
)

// Formats are the formats this build reads, best first.
var Formats = []int{FormatKeyed, FormatJSON}

// Magic starts a state in a binary format; a JSON document cannot
// start with it.
const Magic = "sockd upgrade state\n"

// Choose returns the format to write for a binary that reads formats
// (nil: a build too old to say, which reads JSON), or an error if it
// reads none that this build writes.
func Choose(formats []int) (int, error) {
	if len(formats) == 0 {
		return FormatJSON, nil
	}
	for _, f := range Formats {
		if slices.Contains(formats, f) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("the new binary reads upgrade state formats %v, this sockd writes %v", formats, Formats)
}

// State is what one generation of sockd hands the next across the
// execve: the units' listeners, fd stores, running processes and
// settings, by unit name.
type State struct {
	Format     int       `json:"format"`
	Generation int       `json:"generation"` // of the image that wrote it
	Started    time.Time `json:"started"`    // when generation 1 started
	Binary     string    `json:"binary"`     // the writer's binary
	Version    string    `json:"version"`
	// Units are the running units, by name.
	Units map[string]*supervise.Saved `json:"units"`
	// Stopped are the units whose socket was stopped.
	Stopped []string `json:"stopped,omitempty"`
	// IDs identify the units' listeners (FileID), by unit; FormatKeyed
	// only.
	IDs map[string][]FileID `json:"-"`
	// OldEpoll is the writer's epoll descriptor, inherited for the new
	// image to close once it watches the listeners; 0 if none.
	OldEpoll int `json:"-"`
}

// header is the first part of a FormatKeyed state.
type header struct {
	Generation int
	Started    time.Time
	Binary     string
	Version    string
	Stopped    []string
	OldEpoll   int
	Units      int // how many units the saved parts hold
	SavedParts int // how many parts of savedRecords follow the header
}

// savedRecord is one unit's saved state; its Config is in the settings
// parts unless it changed after they were encoded.
type savedRecord struct {
	Name  string
	Saved *supervise.Saved
	IDs   []FileID
}

// Encode writes s in FormatKeyed; settings are the units' settings as
// EncodeSettings encoded them (nil: every Config goes with its unit).
func Encode(s *State, settings *Settings) ([]byte, error) {
	if settings == nil {
		settings = &Settings{}
	}
	recs := make([]savedRecord, 0, len(s.Units))
	for name, sv := range s.Units {
		c := *sv
		if c.Config != nil && settings.encoded[name] == c.Config {
			c.Config = nil
		}
		recs = append(recs, savedRecord{Name: name, Saved: &c, IDs: s.IDs[name]})
	}
	saved, err := encodeSplit(recs)
	if err != nil {
		return nil, fmt.Errorf("encoding the units' state: %w", err)
	}
	hdr, err := Marshal(header{
		Generation: s.Generation, Started: s.Started, Binary: s.Binary, Version: s.Version,
		Stopped: s.Stopped, OldEpoll: s.OldEpoll, Units: len(s.Units), SavedParts: len(saved),
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the state header: %w", err)
	}
	parts := append(append([][]byte{hdr}, saved...), settings.parts...)
	size := len(Magic) + binary.MaxVarintLen64
	for _, p := range parts {
		size += 8 + len(p)
	}
	out := binary.AppendUvarint(append(make([]byte, 0, size), Magic...), FormatKeyed)
	for _, p := range parts {
		out = binary.LittleEndian.AppendUint64(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out, nil
}

// EncodeJSON writes s in FormatJSON, every unit with its settings.
func EncodeJSON(s *State) ([]byte, error) {
	c := *s
	c.Format = FormatJSON
	return json.Marshal(&c)
}

// Decode reads a state in any format this build reads. It touches no
// fd: the numbers in it are the caller's to check and adopt.
func Decode(data []byte) (*State, error) {
	rest, ok := bytes.CutPrefix(data, []byte(Magic))
	if !ok {
		var s State
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("format %d: %w", FormatJSON, err)
		}
		if s.Format != FormatJSON {
			return nil, fmt.Errorf("a JSON state of format %d; this sockd reads %v", s.Format, Formats)
		}
		return &s, nil
	}
	format, n := binary.Uvarint(rest)
	if n <= 0 {
		return nil, errors.New("truncated format number")
	}
	if format != FormatKeyed {
		return nil, fmt.Errorf("format %d; this sockd reads %v", format, Formats)
	}
	parts, err := splitParts(rest[n:])
	if err != nil {
		return nil, err
	}
	return decodeKeyed(parts)
}

// splitParts splits length-prefixed parts.
func splitParts(rest []byte) ([][]byte, error) {
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
	if len(parts) == 0 {
		return nil, errors.New("no header")
	}
	return parts, nil
}

// decodeKeyed decodes the parts of a FormatKeyed state: the saved parts
// and the settings parts at once.
func decodeKeyed(parts [][]byte) (*State, error) {
	var hdr header
	if err := Unmarshal(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if hdr.Units < 0 || hdr.Units > len(parts[0])+(1<<20) {
		return nil, fmt.Errorf("header: %d units", hdr.Units)
	}
	if hdr.SavedParts < 0 || 1+hdr.SavedParts > len(parts) {
		return nil, fmt.Errorf("%d parts, the header announces %d saved parts", len(parts), hdr.SavedParts)
	}
	split := 1 + hdr.SavedParts
	var cfgs []*units.Unit
	var cfgErr error
	cfgDone := make(chan struct{})
	go func() {
		defer close(cfgDone)
		cfgs, cfgErr = decodeSettings(parts[split:])
	}()
	saved, err := decodeSplit[savedRecord](parts[1:split])
	<-cfgDone
	if err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	if cfgErr != nil {
		return nil, fmt.Errorf("units' settings: %w", cfgErr)
	}
	s := &State{
		Format: FormatKeyed, Generation: hdr.Generation, Started: hdr.Started, Binary: hdr.Binary,
		Version: hdr.Version, Stopped: hdr.Stopped, OldEpoll: hdr.OldEpoll,
		Units: make(map[string]*supervise.Saved, hdr.Units), IDs: make(map[string][]FileID, hdr.Units),
	}
	for _, part := range saved {
		for _, r := range part {
			if r.Saved == nil {
				return nil, fmt.Errorf("units: unit %q: nothing saved", r.Name)
			}
			s.Units[r.Name] = r.Saved
			if len(r.IDs) > 0 {
				s.IDs[r.Name] = r.IDs
			}
		}
	}
	if len(s.Units) != hdr.Units {
		return nil, fmt.Errorf("units: %d, the header announces %d", len(s.Units), hdr.Units)
	}
	for _, c := range cfgs {
		if sv := s.Units[c.Name]; sv != nil && sv.Config == nil {
			sv.Config = c
		}
	}
	for name, sv := range s.Units {
		if sv.Config == nil {
			return nil, fmt.Errorf("units: unit %q: no settings", name)
		}
	}
	return s, nil
}

// encodeSplit encodes xs as lists, in as many parts as there are CPUs
// (fewer for few xs; at least one), in parallel.
func encodeSplit[T any](xs []T) ([][]byte, error) {
	parts := make([][]byte, partsFor(len(xs)))
	errs := make([]error, len(parts))
	inParts(len(xs), len(parts), func(i, lo, hi int) {
		parts[i], errs[i] = marshalSized(xs[lo:hi], 256*(hi-lo))
	})
	return parts, errors.Join(errs...)
}

// decodeSplit decodes the parts encodeSplit made, in parallel.
func decodeSplit[T any](parts [][]byte) ([][]T, error) {
	out := make([][]T, len(parts))
	errs := make([]error, len(parts))
	inParts(len(parts), len(parts), func(i, _, _ int) {
		if err := Unmarshal(parts[i], &out[i]); err != nil {
			errs[i] = fmt.Errorf("part %d: %w", i+1, err)
		}
	})
	return out, errors.Join(errs...)
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
