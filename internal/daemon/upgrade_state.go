package daemon

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

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
//     Handover without its units), the units' saved fds and processes,
//     and the units' settings split into parts that are encoded in
//     parallel before any unit is parked and decoded in parallel by the
//     new image. Each part is a gob stream of its own. 2.8 MB at 10,000
//     units.
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
	Units      int // how many units the units part holds
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

// configParts gob-encodes the settings of the units in cfgs into as many
// parts as there are CPUs (at least one), in parallel.
func configParts(cfgs []*units.Unit) ([][]byte, error) {
	n := min(runtime.GOMAXPROCS(0), max(1, len(cfgs)/256))
	n = max(n, 1)
	parts := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := i*len(cfgs)/n, (i+1)*len(cfgs)/n
		wg.Go(func() {
			var buf bytes.Buffer
			errs[i] = gob.NewEncoder(&buf).Encode(cfgs[lo:hi])
			parts[i] = buf.Bytes()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("encoding the units' settings: %w", err)
	}
	return parts, nil
}

// encodeParts writes h in format 2. configs are the parts configParts
// made of the settings of h's units; a unit whose Saved.Config is not
// among them (none, if the settings did not change since) gets it in the
// units part.
func encodeParts(w io.Writer, h *Handover, configs [][]byte, encoded map[string]*units.Unit) error {
	hdr := stateHeader{
		Generation: h.Generation, Started: h.Started, Binary: h.Binary,
		Version: h.Version, Stopped: h.Stopped, Units: len(h.Units),
	}
	// The units part carries every Saved without the settings that the
	// config parts have.
	saved := make(map[string]*supervise.Saved, len(h.Units))
	for name, s := range h.Units {
		c := *s
		if c.Config != nil && encoded[name] == c.Config {
			c.Config = nil
		}
		saved[name] = &c
	}
	var hb, ub bytes.Buffer
	if err := gob.NewEncoder(&hb).Encode(hdr); err != nil {
		return fmt.Errorf("encoding the state header: %w", err)
	}
	if err := gob.NewEncoder(&ub).Encode(saved); err != nil {
		return fmt.Errorf("encoding the units' state: %w", err)
	}
	if _, err := io.WriteString(w, stateMagic); err != nil {
		return err
	}
	for _, p := range append([][]byte{hb.Bytes(), ub.Bytes()}, configs...) {
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
	if len(parts) < 2 {
		return nil, fmt.Errorf("%d parts, want at least 2", len(parts))
	}
	var hdr stateHeader
	if err := gob.NewDecoder(bytes.NewReader(parts[0])).Decode(&hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h := &Handover{
		Format: handoverFormat, Generation: hdr.Generation, Started: hdr.Started,
		Binary: hdr.Binary, Version: hdr.Version, Stopped: hdr.Stopped,
		Units: make(map[string]*supervise.Saved, hdr.Units),
	}
	// The units part is decoded next to the config parts.
	unitsErr := make(chan error, 1)
	go func() { unitsErr <- gob.NewDecoder(bytes.NewReader(parts[1])).Decode(&h.Units) }()
	cfgs, err := decodeConfigs(parts[2:])
	if uerr := <-unitsErr; uerr != nil {
		return nil, fmt.Errorf("units: %w", uerr)
	}
	if err != nil {
		return nil, err
	}
	for _, part := range cfgs {
		for _, u := range part {
			if s := h.Units[u.Name]; s != nil && s.Config == nil {
				s.Config = u
			}
		}
	}
	return h, nil
}

// decodeConfigs decodes the config parts in parallel.
func decodeConfigs(parts [][]byte) ([][]*units.Unit, error) {
	out := make([][]*units.Unit, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			if err := gob.NewDecoder(bytes.NewReader(p)).Decode(&out[i]); err != nil {
				errs[i] = fmt.Errorf("units' settings, part %d: %w", i+1, err)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
