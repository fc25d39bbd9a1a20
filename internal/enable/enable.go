package enable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Change is one change to the file system, as systemctl reports it.
type Change struct {
	Removed bool   // a symlink was removed (else created)
	Path    string // the symlink, under the root
	Target  string // what a created symlink points to
}

// String words c as systemctl does.
func (c Change) String() string {
	if c.Removed {
		return fmt.Sprintf("Removed %q.", c.Path)
	}
	return fmt.Sprintf("Created symlink %s → %s.", c.Path, c.Target)
}

// Result is what Enable or Disable did.
type Result struct {
	Changes []Change
	// Static are the units that have nothing to enable: no WantedBy=,
	// RequiredBy=, Alias= or Also=, or a template without an instance
	// or DefaultInstance= (systemctl prints a note for them).
	Static []string
}

// Enable enables the named units as `systemctl enable` does: for each,
// a link TARGET.wants/NAME for each WantedBy=TARGET (TARGET.requires/
// for RequiredBy=), a link for each Alias=, and the same for each unit of
// Also=. A template is enabled with its DefaultInstance=, or with the
// instance named. A link that exists with the same target is left as it
// is; one with another target is an error, as without --force.
func (p Paths) Enable(names ...string) (Result, error) {
	var res Result
	err := p.walkAlso(names, func(u *unitFile) error {
		if u.masked {
			return fmt.Errorf("unit file %s is masked", u.path)
		}
		name := u.name
		if u.aliasOf != "" && u.instance == "" {
			name = u.aliasOf
		}
		if isTemplate(name) && u.install.DefaultInstance != "" {
			prefix, suffix, _ := strings.Cut(name, "@")
			name = prefix + "@" + u.install.DefaultInstance + suffix
		}
		links := p.linksFor(u, name)
		if len(links) == 0 && len(u.install.Also) == 0 {
			res.Static = append(res.Static, u.name)
		}
		for _, l := range links {
			c, err := p.link(l, p.inRoot(u.path))
			if err != nil {
				return err
			}
			if c != nil {
				res.Changes = append(res.Changes, *c)
			}
		}
		return nil
	})
	return res, err
}

// linksFor returns the symlinks that enable u under the name name.
func (p Paths) linksFor(u *unitFile, name string) []string {
	var links []string
	if isTemplate(name) {
		return nil // no instance: nothing to link
	}
	for _, t := range u.install.WantedBy {
		links = append(links, filepath.Join(p.Config, t+".wants", name))
	}
	for _, t := range u.install.RequiredBy {
		links = append(links, filepath.Join(p.Config, t+".requires", name))
	}
	if u.instance == "" {
		for _, a := range u.install.Alias {
			links = append(links, filepath.Join(p.Config, a))
		}
	}
	return links
}

// link makes the symlink path → target, or nothing if it is there.
func (p Paths) link(path, target string) (*Change, error) {
	if old, err := os.Readlink(path); err == nil {
		if old == target {
			return nil, nil
		}
		return nil, fmt.Errorf("file %s already exists and is a symlink to %s", path, old)
	} else if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("file %s already exists", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(target, path); err != nil {
		return nil, err
	}
	return &Change{Path: path, Target: target}, nil
}

// walkAlso calls f for each named unit and, once each, every unit its
// Also= names, transitively.
func (p Paths) walkAlso(names []string, f func(*unitFile) error) error {
	seen := map[string]bool{}
	queue := append([]string(nil), names...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		u, err := p.find(name)
		if err != nil {
			return err
		}
		if err := f(u); err != nil {
			return err
		}
		queue = append(queue, u.install.Also...)
	}
	return nil
}

// Disable undoes Enable, as `systemctl disable` does: it removes, from
// /etc/systemd/system, every symlink in a .wants/ or .requires/
// directory and every alias that names the unit or points to its unit
// file (for a template: to any of its instances; for an instance: by its
// name only), for each named unit and each unit of its Also=. Masks are
// left alone.
func (p Paths) Disable(names ...string) (Result, error) {
	var res Result
	err := p.walkAlso(names, func(u *unitFile) error {
		if u.masked {
			return nil
		}
		links, err := p.linksTo(p.Config, u)
		if err != nil {
			return err
		}
		for _, l := range links {
			if err := os.Remove(l); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			res.Changes = append(res.Changes, Change{Removed: true, Path: l})
		}
		return nil
	})
	return res, err
}
