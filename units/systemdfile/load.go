package systemdfile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sockd/sockd/units"
)

// ErrMasked is wrapped by the error Load returns for a masked socket unit
// or service unit (see UnitFile.Masked). A daemon loading every unit can
// test for it with errors.Is and list the unit as masked.
var ErrMasked = errors.New("masked")

// MaskedError says which unit is masked: the socket unit itself or the
// service it activates. It matches ErrMasked with errors.Is.
type MaskedError struct {
	Path string // the file that names the unit (the socket unit's)
	Kind string // "socket" or "service"
	Unit string // the masked unit, e.g. "web.service"
}

func (e *MaskedError) Error() string {
	return fmt.Sprintf("%s: %s unit %s is masked", e.Path, e.Kind, e.Unit)
}

// Is makes errors.Is(err, ErrMasked) true.
func (e *MaskedError) Is(target error) bool { return target == ErrMasked }

// Load reads the socket unit name ("web.socket", or just "web") and the
// service it activates, with their drop-ins, through find:
//
//  1. the socket file, then its drop-ins;
//  2. the service it names: Service=, else NAME@.service with
//     Accept=yes, else NAME.service; then the service's drop-ins.
//
// The error is a units.ErrorList of every problem found, each with its
// file and line, or nil. The unit is returned whenever the socket file
// was read, even with errors, so that callers can show what was
// understood. A masked socket unit gives a nil unit and an error wrapping
// ErrMasked; a missing or masked service unit is an error in the list.
// An instance of a template ("foo@bar.socket") is read from its own file
// or else from the template (template.go); a template itself is not a
// unit: load an instance of it.
func Load(name string, find Finder, env units.SpecifierEnv) (*units.Unit, error) {
	stem, err := socketStem(name)
	if err != nil {
		return nil, err
	}
	sock, err := findUnitFile(find, stem+".socket")
	if err != nil {
		return nil, findError("socket", stem+".socket", err)
	}
	if sock.Masked {
		return nil, &MaskedError{Path: sock.Path, Kind: "socket", Unit: sock.Name}
	}
	b := units.NewBuilder(stem, env)
	applyUnit(b, sock)
	svcName := b.Socket().ServiceName(stem)
	svc, err := findUnitFile(find, svcName)
	switch {
	case err != nil:
		b.AddError(fmt.Errorf("%s: %w", sock.Path, findError("service", svcName, err)))
	case svc.Masked:
		b.AddError(&MaskedError{Path: sock.Path, Kind: "service", Unit: svcName})
	default:
		applyUnit(b, svc)
	}
	// Finish does not check ExecStart=: units.Validate does, and callers
	// validate only units that loaded without errors.
	return b.Finish()
}

// findError words an error from Finder.Find: "service unit web.service
// not found (searched …)", or "service unit web.service: <cause>".
func findError(kind, name string, err error) error {
	var nf *NotFoundError
	if errors.As(err, &nf) || errors.Is(err, errInvalidName) {
		return fmt.Errorf("%s unit %w", kind, err)
	}
	return fmt.Errorf("%s unit %s: %w", kind, name, err)
}

// LoadFile loads the socket unit file at path, looking for its service
// and drop-ins in the same directory.
func LoadFile(path string, env units.SpecifierEnv) (*units.Unit, error) {
	return Load(filepath.Base(path), NewDirFinder([]string{filepath.Dir(path)}), env)
}

// socketStem returns the socket unit's name without ".socket". The
// suffix may be left out only from a name without dots.
func socketStem(name string) (string, error) {
	stem, ok := strings.CutSuffix(name, ".socket")
	if (!ok && strings.Contains(name, ".")) || stem == "" || checkFileName(stem+".socket") != nil {
		return "", fmt.Errorf("%q is not a valid socket unit name", name)
	}
	if IsTemplateSocket(stem) {
		return "", fmt.Errorf("%s.socket: a template socket unit is not a unit: load an instance of it, %sINSTANCE.socket", stem, stem)
	}
	return stem, nil
}

// applyUnit applies a unit file and then its drop-ins.
func applyUnit(b *units.Builder, u UnitFile) {
	applyFile(b, u.Name, u.Path)
	for _, p := range u.DropIns {
		applyFile(b, u.Name, p)
	}
}

// applyFile reads one file of the unit unitName and applies its
// assignments; problems go to the builder's error list.
func applyFile(b *units.Builder, unitName, path string) {
	data, err := units.ReadFile(path)
	if err != nil {
		b.AddError(err)
		return
	}
	b.AddFile(path)
	entries, errs := lex(path, data)
	// Report the lexer's errors and the builder's in line order.
	for _, e := range entries {
		for len(errs) > 0 && errLineOf(errs[0]) < e.line {
			b.AddError(errs[0])
			errs = errs[1:]
		}
		b.Apply(unitName, e.assignment(path))
	}
	for _, err := range errs {
		b.AddError(err)
	}
}

// errLineOf returns the line of a lexer error.
func errLineOf(err error) int {
	var ue *units.Error
	if errors.As(err, &ue) {
		return ue.Pos.Line
	}
	return 0
}
