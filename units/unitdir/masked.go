package unitdir

import (
	"errors"
	"io/fs"
	"os"

	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/systemdfile"
)

// maskedUnits returns the masked unit files named by err, the error of
// loading one unit, or nil if that unit is not masked. A unit is masked
// when its socket unit is, or when its service is and nothing else is
// wrong with it: systemd lists such a socket as loaded but refuses to
// start it, and sockd leaves it out without calling it invalid.
func maskedUnits(err error) []string {
	if err == nil || !errors.Is(err, systemdfile.ErrMasked) {
		return nil
	}
	var out []string
	for _, e := range units.Errors(err) {
		var m *systemdfile.MaskedError
		if !errors.As(e, &m) {
			return nil // other problems too: the unit is invalid
		}
		out = append(out, m.Unit)
	}
	return out
}

// isMask reports whether the unit file at path masks its unit as systemd
// decides it (null_or_empty): it is (a symlink to) a character device
// such as /dev/null, or empty. It never opens the file, so a device is
// never read.
func isMask(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return fi.Mode()&fs.ModeCharDevice != 0 || (fi.Mode().IsRegular() && fi.Size() == 0)
}
