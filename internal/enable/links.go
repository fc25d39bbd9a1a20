package enable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// linksTo returns the symlinks in dir that enable u: in its .wants/ and
// .requires/ directories and its aliases at the top, sorted. A symlink
// counts when its name is u's name (or an Alias= of it) or, unless u is
// an instance, when it points to u's unit file.
func (p Paths) linksTo(dir string, u *unitFile) ([]string, error) {
	names := map[string]bool{u.name: true}
	if u.aliasOf != "" && u.instance == "" {
		names[u.aliasOf] = true
	}
	for _, a := range u.install.Alias {
		names[a] = true
	}
	var out []string
	check := func(path string) {
		target, err := os.Readlink(path)
		if err != nil || target == "/dev/null" {
			return
		}
		base := filepath.Base(path)
		if names[base] || (u.instance == "" && filepath.Base(target) == u.base()) {
			out = append(out, path)
		}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			check(path)
			continue
		}
		if e.IsDir() && (strings.HasSuffix(e.Name(), ".wants") || strings.HasSuffix(e.Name(), ".requires")) {
			sub, err := os.ReadDir(path)
			if err != nil {
				return nil, err
			}
			for _, s := range sub {
				if s.Type()&fs.ModeSymlink != 0 {
					check(filepath.Join(path, s.Name()))
				}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
