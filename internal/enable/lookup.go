package enable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotFound is wrapped by the error for a unit file that is on no
// directory of the search path.
var ErrNotFound = errors.New("no such file or directory")

// unitFile is a unit found on the search path.
type unitFile struct {
	name     string // the name looked up: "web.socket", "t@a.socket"
	path     string // the unit file under the root, aliases followed
	dir      string // the directory the name was found in
	masked   bool   // the name is masked in dir
	aliasOf  string // the unit the name is an alias of, if it is one
	instance string // the instance of an instance name ("a" of t@a.socket)
	install  install
}

// base returns the unit file's own name ("t@.socket", "web.socket").
func (u *unitFile) base() string { return filepath.Base(u.path) }

// find looks name up on the search path, highest priority first, as
// systemd does: the first directory with a file or symlink of that name
// wins; a symlink to /dev/null or an empty file masks the unit; a symlink
// to a unit file of another name makes name an alias. An instance name
// falls back to its template.
func (p Paths) find(name string) (*unitFile, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	for _, dir := range p.Search {
		u, err := p.findIn(dir, name)
		if u != nil || err != nil {
			return u, err
		}
	}
	if prefix, rest, ok := strings.Cut(name, "@"); ok && !strings.HasPrefix(rest, ".") {
		inst, suffix := splitSuffix(rest)
		u, err := p.find(prefix + "@" + suffix)
		if u != nil {
			u.name, u.instance = name, inst
		}
		return u, err
	}
	return nil, fmt.Errorf("unit file %s: %w", name, ErrNotFound)
}

// findIn looks name up in one directory: nil, nil if it is not there.
func (p Paths) findIn(dir, name string) (*unitFile, error) {
	path := filepath.Join(dir, name)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u := &unitFile{name: name, path: path, dir: dir}
	if isMasked(path) {
		u.masked = true
		return u, nil
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if u.path, err = p.resolve(path); err != nil {
			return nil, fmt.Errorf("unit file %s: %w", path, err)
		}
		if b := u.base(); b != name {
			u.aliasOf = b
		}
	}
	if u.install, err = readInstall(u.path); err != nil {
		return nil, fmt.Errorf("unit file %s: %w", u.path, err)
	}
	return u, nil
}

// resolve follows the symlink at path, and any symlinks its target is,
// inside the root.
func (p Paths) resolve(path string) (string, error) {
	for range 32 {
		fi, err := os.Lstat(path)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = p.inRoot(filepath.Join(filepath.Dir(path), target))
		}
		path = p.underRoot(target)
	}
	return "", fmt.Errorf("too many levels of symbolic links")
}

// isMasked reports whether the unit file at path masks its unit: (a
// symlink to) a character device such as /dev/null, or an empty file.
// A symlink to /dev/null is recognised by its text too, since under a
// root it may not resolve.
func isMasked(path string) bool {
	if target, err := os.Readlink(path); err == nil && target == "/dev/null" {
		return true
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return fi.Mode()&fs.ModeCharDevice != 0 || (fi.Mode().IsRegular() && fi.Size() == 0)
}

// splitSuffix splits "a.socket" into "a" and ".socket".
func splitSuffix(name string) (string, string) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

// isTemplate reports whether name is a template ("t@.socket").
func isTemplate(name string) bool { return strings.Contains(name, "@.") }

// checkName refuses what is not a unit name: systemd allows ASCII
// letters, digits and ":-_.\\@", up to 255 bytes, and a type suffix. This
// also keeps a name from leaving its directory.
func checkName(name string) error {
	_, suffix := splitSuffix(name)
	valid := len(name) <= 255 && suffix != "" && suffix != name && !strings.HasPrefix(name, ".")
	for i := 0; valid && i < len(name); i++ {
		c := name[i]
		valid = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(":-_.\\@", c) >= 0
	}
	if !valid {
		return fmt.Errorf("%q is not a valid unit name", name)
	}
	return nil
}
