package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// CheckFlag runs a sockd binary as the check of an upgrade to it: the
// running sockd runs `BINARY --upgrade-check`, with the state the
// upgrade would hand over in $SOCKD_UPGRADE_STATE, and reads the last
// line of its output, a CheckResult.
const CheckFlag = "--upgrade-check"

// CheckResult is what `sockd --upgrade-check` prints as its last line.
type CheckResult struct {
	OK      bool   `json:"ok"`
	Version string `json:"version"`
	Units   int    `json:"units"`   // units in the unit files
	Adopted int    `json:"adopted"` // listeners received and matched (a takeover check)
	New     int    `json:"new"`     // listeners that would be bound anew (a takeover check)
	Stored  int    `json:"fdstore"` // fd store entries received (a takeover check)
	Unused  int    `json:"unused"`  // listeners received that no unit wants (a takeover check)
	// StateFormats are the formats of the upgrade state this binary
	// reads; a binary that does not say reads only FormatJSON.
	StateFormats []int `json:"state_formats,omitempty"`
	// State is what the binary decoded of the state it was given: set
	// by every build that reads FormatKeyed.
	State *StateReport `json:"state,omitempty"`
}

// StateReport says what a new image would restore from a state.
type StateReport struct {
	Format  int `json:"format"`
	Units   int `json:"units"` // units it would restore, with their listeners
	Stopped int `json:"stopped"`
	// Digest is Digest of the state: the writer compares it with its
	// own.
	Digest string `json:"digest"`
	// What the reload after the upgrade would do, from the unit files.
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
}

// Digest identifies what a state restores: every unit's name, settings
// (listeners and service), listeners' fds and fd store entries.
func Digest(s *State) string {
	names := make([]string, 0, len(s.Units))
	for name := range s.Units {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		sv := s.Units[name]
		fmt.Fprintf(h, "%s\x00", name)
		if c := sv.Config; c != nil {
			fmt.Fprintf(h, "%s\x00%d\x00", c.Service.Name, len(c.Socket.Listeners))
			for _, l := range c.Socket.Listeners {
				fmt.Fprintf(h, "%s\x00", l.Address.String())
			}
		}
		for _, l := range sv.Listeners {
			fmt.Fprintf(h, "%s=%d\x00", l.Addr, l.FD)
		}
		for _, e := range sv.FDStore {
			fmt.Fprintf(h, "%s=%d\x00", e.Name, e.FD)
		}
	}
	for _, name := range s.Stopped {
		fmt.Fprintf(h, "stopped %s\x00", name)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CheckState is `sockd --upgrade-check` when the running sockd passed
// the state: it decodes the state exactly as the new image would,
// touching none of the fds it names, loads the unit files with load, and
// reports what the upgrade would restore and what the reload after it
// would change. It returns false if no state was passed (a sockd older
// than FormatKeyed asks: the caller checks by takeover instead).
func CheckState(load func() *unitdir.Result, version string) (CheckResult, bool, error) {
	res := CheckResult{Version: version, StateFormats: Formats}
	v, ok := os.LookupEnv(StateEnv)
	if !ok {
		return res, false, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return res, true, fmt.Errorf("$%s=%q: not an fd", StateEnv, v)
	}
	data, err := readState(v)
	if err != nil {
		return res, true, err
	}
	s, err := Decode(data)
	if FailCheckDecode {
		err = errors.New("injected fault (a test build)")
	}
	if err != nil {
		return res, true, fmt.Errorf("cannot decode the state the upgrade would hand over: %w", err)
	}
	loaded := load()
	if err := loaded.Err(); err != nil {
		var lines []string
		for _, e := range units.Errors(err) {
			lines = append(lines, e.Error())
		}
		return res, true, fmt.Errorf("%d unit(s) invalid:\n%s", len(loaded.Invalid), strings.Join(lines, "\n"))
	}
	saved := make([]*units.Unit, 0, len(s.Units))
	for _, sv := range s.Units {
		saved = append(saved, sv.Config)
	}
	diff := units.Diff(saved, loaded.Units)
	res.Units = len(loaded.Units)
	res.State = &StateReport{
		Format: s.Format, Units: len(s.Units), Stopped: len(s.Stopped), Digest: Digest(s),
		Added: len(diff.Added), Removed: len(diff.Removed), Changed: len(diff.Changed),
	}
	res.OK = true
	return res, true, nil
}
