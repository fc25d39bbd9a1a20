// Package unitdir loads every unit from sockd's unit directories, in both
// formats: systemd's NAME.socket + NAME.service pairs (units/systemdfile)
// and native NAME.toml files (units/tomlfile). A later directory overrides
// an earlier one by unit name, as systemd's search path does (pass
// packaged units first: /usr/lib/sockd/units, then /etc/sockd/units).
//
// Loading is all-or-report: every unit is parsed and validated, every
// problem is collected with its file and line, and an invalid unit is left
// out without affecting the others.
package unitdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/systemdfile"
	"github.com/sockd/sockd/units/tomlfile"
)

// Result is what Load found.
type Result struct {
	// Units are the valid units, sorted by name.
	Units []*units.Unit
	// Invalid maps the name of each unit left out to its problems.
	Invalid map[string][]error
	// Errors holds problems that belong to no unit (an unreadable
	// directory, say).
	Errors []error
	// Masked are the unit files found masked (a symlink to /dev/null or
	// empty), sorted: "web.socket", or "web.service" for a socket whose
	// service is masked. Their units are left out but are not invalid:
	// masking is how a unit is switched off, not a mistake (masked.go).
	Masked []string
	// NotFound are the socket units LoadSockets was asked for that no
	// directory has, sorted.
	NotFound []string
	// Templates are the valid template socket units, each loaded as its
	// test instance (templates.go); they are not units to run.
	Templates []*units.Unit
}

// Err returns every problem as one units.ErrorList, or nil.
func (r *Result) Err() error {
	var all units.ErrorList
	all = append(all, r.Errors...)
	for _, name := range r.InvalidNames() {
		all = append(all, r.Invalid[name]...)
	}
	return all.Err()
}

// InvalidNames returns the names of the invalid units, sorted.
func (r *Result) InvalidNames() []string {
	names := make([]string, 0, len(r.Invalid))
	for n := range r.Invalid {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// source is where a unit's main file was found.
type source struct {
	path   string
	format string // "socket" or "toml"
}

// Load reads, parses and validates every unit in dirs.
func Load(dirs []string, env units.SpecifierEnv) *Result {
	r := &Result{Invalid: map[string][]error{}}
	sources, errs := index(dirs)
	r.Errors = append(r.Errors, errs...)
	return r.load(dirs, sources, env)
}

// load loads and validates the units of sources into r.
func (r *Result) load(dirs []string, sources map[string]source, env units.SpecifierEnv) *Result {
	templates := splitTemplates(sources) // templates.go
	names := sortedKeys(sources)
	finder := systemdfile.NewDirFinder(dirs)
	verifyTemplates(r, templates, finder, env)
	loadedAll, errsAll := loadAll(names, sources, finder, env)
	var loaded []*units.Unit
	for i, name := range names {
		if masked := maskedUnits(errsAll[i]); masked != nil {
			r.Masked = append(r.Masked, masked...)
			continue
		}
		if errsAll[i] != nil {
			r.Invalid[name] = units.Errors(errsAll[i])
			continue
		}
		loaded = append(loaded, loadedAll[i])
	}
	sort.Strings(r.Masked)
	bad, setErrs := units.ValidateSet(loaded)
	for _, err := range setErrs {
		var ue *units.Error
		name := ""
		if errors.As(err, &ue) {
			name = unitOfFile(loaded, ue.Pos.File)
		}
		r.Invalid[name] = append(r.Invalid[name], err)
	}
	for _, u := range loaded {
		if !bad[u.Name] {
			u.Where = nil // positions serve only load-time errors: don't keep them per unit
			r.Units = append(r.Units, u)
		}
	}
	return r
}

// loadAll parses and validates the named units on every CPU: loading is
// mostly file reading and parsing, independent from unit to unit.
func loadAll(names []string, sources map[string]source, finder *systemdfile.DirFinder, env units.SpecifierEnv) ([]*units.Unit, []error) {
	us := make([]*units.Unit, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(names)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				us[i], errs[i] = loadOne(names[i], sources[names[i]], finder, env)
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return us, errs
}

// loadOne parses and validates one unit.
func loadOne(name string, src source, finder *systemdfile.DirFinder, env units.SpecifierEnv) (*units.Unit, error) {
	var u *units.Unit
	var err error
	if src.format == "toml" {
		if isMask(src.path) { // masked.go
			return nil, &systemdfile.MaskedError{Path: src.path, Kind: "unit", Unit: name + ".toml"}
		}
		u, err = tomlfile.Load(src.path, env)
	} else {
		u, err = systemdfile.Load(name, finder, env)
	}
	if err == nil {
		err = units.Validate(u)
	}
	return u, err
}

// unitOfFile returns the name of the unit loaded from path.
func unitOfFile(us []*units.Unit, path string) string {
	for _, u := range us {
		for _, f := range u.Files {
			if f == path {
				return u.Name
			}
		}
	}
	return ""
}

// index finds the main file of every unit: NAME.socket or NAME.toml, from
// the last directory that has one. Both formats for one name in the same
// directory is an error.
func index(dirs []string) (map[string]source, []error) {
	sources := map[string]source{}
	var errs []error
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unit directory %s: %w", dir, err))
			continue
		}
		here := map[string]string{}
		for _, e := range entries {
			n := e.Name()
			if strings.HasPrefix(n, ".") || e.IsDir() {
				continue
			}
			ext := filepath.Ext(n)
			if ext != ".socket" && ext != ".toml" {
				continue
			}
			if err := regular(dir, e); err != nil {
				errs = append(errs, err)
				continue
			}
			name := strings.TrimSuffix(n, ext)
			if prev, dup := here[name]; dup {
				errs = append(errs, fmt.Errorf("%s: unit %s is defined twice in one directory, as %s and %s", dir, name, prev, n))
				delete(sources, name)
				continue
			}
			here[name] = n
			sources[name] = source{path: filepath.Join(dir, n), format: ext[1:]}
		}
	}
	return sources, errs
}

// regular returns an error for a unit file that is not a regular file
// (or a symlink to one): a FIFO, a device or a socket is skipped, and the
// error says so, since reading one could hang the load (units.ReadFile
// refuses them too). Stat does not open the file, so it cannot hang. A
// character device (a link to /dev/null) is let through: that is how
// systemd masks a unit, and the loader reports it masked without reading
// it.
func regular(dir string, e fs.DirEntry) error {
	if e.Type().IsRegular() {
		return nil
	}
	path := filepath.Join(dir, e.Name())
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w; skipped", path, err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeCharDevice == 0 { // a character device masks: masked.go
		return fmt.Errorf("%s: not a regular file (%s); skipped", path, fileKind(fi.Mode()))
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	}
	return "not a file"
}

func sortedKeys(m map[string]source) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
