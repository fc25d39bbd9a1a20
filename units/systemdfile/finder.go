package systemdfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// UnitFile is a unit file found on the search path, with its drop-ins.
type UnitFile struct {
	Name string // the unit name, e.g. "web.socket"
	Path string // the file from the last directory that has one
	// Masked is true when Path is a symlink to /dev/null (any character
	// device) or an empty file: systemd treats both as a masked unit.
	Masked bool
	// DropIns are the NAME.d/*.conf files of all directories, in the
	// order to apply them (see DirFinder).
	DropIns []string
}

// A Finder locates unit files by name.
type Finder interface {
	// Find returns the unit file named name ("web.socket",
	// "web@.service") and its drop-ins. A unit in none of the places it
	// looks is a *NotFoundError.
	Find(name string) (UnitFile, error)
}

// NotFoundError says that no directory holds a unit file.
type NotFoundError struct {
	Name     string   // the unit name looked for
	Searched []string // the directories searched, in order
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s not found (searched %s)", e.Name, strings.Join(e.Searched, ", "))
}

// DirFinder finds unit files in a list of directories, the way systemd
// searches its unit path, except that the order is reversed: a later
// directory overrides an earlier one (pass packaged units first, e.g.
// /usr/lib/sockd/units, then /etc/sockd/units).
//
//   - NAME is read from the last directory that has a file or symlink of
//     that name.
//   - Drop-ins are the NAME.d/*.conf files of every directory. A drop-in
//     in a later directory replaces the one with the same file name in an
//     earlier directory; a drop-in that is a symlink to /dev/null removes
//     it. They apply in lexical (byte) order of their file names,
//     wherever they are.
//   - Hidden files (".name") are ignored. Directories that do not exist
//     are skipped.
//
// systemd's prefix drop-ins ("foo-.service.d/") and type drop-ins
// ("service.d/") are not read.
type DirFinder struct {
	dirs []string
}

// NewDirFinder returns a Finder over dirs, lowest priority first.
func NewDirFinder(dirs []string) *DirFinder {
	return &DirFinder{dirs: append([]string(nil), dirs...)}
}

// Dirs returns the directories searched, lowest priority first.
func (f *DirFinder) Dirs() []string { return append([]string(nil), f.dirs...) }

// Find implements Finder.
func (f *DirFinder) Find(name string) (UnitFile, error) {
	if err := checkFileName(name); err != nil {
		return UnitFile{}, err
	}
	u := UnitFile{Name: name}
	for _, dir := range f.dirs {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err == nil {
			u.Path = p
		} else if !errors.Is(err, fs.ErrNotExist) {
			return UnitFile{}, err
		}
	}
	if u.Path == "" {
		return UnitFile{}, &NotFoundError{Name: name, Searched: f.Dirs()}
	}
	masked, err := isMasked(u.Path)
	if err != nil {
		return UnitFile{}, err
	}
	u.Masked = masked
	if u.DropIns, err = f.dropIns(name + ".d"); err != nil {
		return UnitFile{}, err
	}
	return u, nil
}

// dropIns lists the *.conf files in the directories named dirName.
func (f *DirFinder) dropIns(dirName string) ([]string, error) {
	byName := map[string]string{}
	for _, dir := range f.dirs {
		d := filepath.Join(dir, dirName)
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, ent := range entries {
			n := ent.Name()
			if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".conf") || ent.IsDir() {
				continue
			}
			p := filepath.Join(d, n)
			if masked, err := isDevNull(p); err != nil {
				return nil, err
			} else if masked {
				delete(byName, n)
				continue
			}
			byName[n] = p
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = byName[n]
	}
	return paths, nil
}

// Sockets returns the names of the socket units in the directories, each
// NAME.socket once, sorted. Masked and template sockets are listed too:
// Load reports what is wrong with them.
func (f *DirFinder) Sockets() ([]string, error) {
	seen := map[string]bool{}
	for _, dir := range f.dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, ent := range entries {
			n := ent.Name()
			if strings.HasSuffix(n, ".socket") && !strings.HasPrefix(n, ".") && !ent.IsDir() {
				seen[n] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// isMasked reports whether the unit file at p masks its unit: it is (a
// symlink to) a character device such as /dev/null, or it is empty, as
// systemd's null_or_empty() decides.
func isMasked(p string) (bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	if st.Mode()&fs.ModeCharDevice != 0 {
		return true, nil
	}
	return st.Mode().IsRegular() && st.Size() == 0, nil
}

// isDevNull reports whether p is (a symlink to) a character device.
func isDevNull(p string) (bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return st.Mode()&fs.ModeCharDevice != 0, nil
}

var errInvalidName = errors.New("not a valid unit name")

// checkFileName refuses a name that is not a valid unit name: systemd
// allows ASCII letters, digits and ":-_.\\@", up to 255 bytes. This also
// keeps a name from leaving its directory.
func checkFileName(name string) error {
	valid := name != "" && len(name) <= 255 && !strings.HasPrefix(name, ".")
	for i := 0; valid && i < len(name); i++ {
		c := name[i]
		valid = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(":-_.\\@", c) >= 0
	}
	if !valid {
		return fmt.Errorf("%q is %w", name, errInvalidName)
	}
	return nil
}
