package enable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Mask masks the named units as `systemctl mask` does: a symlink
// /etc/systemd/system/NAME → /dev/null, which hides every unit file of
// that name. A unit need not exist to be masked. A file of that name in
// /etc/systemd/system that is not already a mask is an error.
func (p Paths) Mask(names ...string) (Result, error) {
	var res Result
	for _, name := range names {
		if err := checkName(name); err != nil {
			return res, err
		}
		path := filepath.Join(p.Config, name)
		if _, err := os.Lstat(path); err == nil {
			if isMasked(path) {
				continue
			}
			return res, fmt.Errorf("file %s already exists", path)
		}
		c, err := p.link(path, "/dev/null")
		if err != nil {
			return res, err
		}
		res.Changes = append(res.Changes, *c)
	}
	return res, nil
}

// Unmask removes the masks of the named units from /etc/systemd/system
// and /run/systemd/system, as `systemctl unmask` does: symlinks to
// /dev/null and empty files.
func (p Paths) Unmask(names ...string) (Result, error) {
	var res Result
	for _, name := range names {
		if err := checkName(name); err != nil {
			return res, err
		}
		for _, dir := range []string{p.Config, p.Runtime} {
			path := filepath.Join(dir, name)
			if !isMasked(path) {
				continue
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return res, err
			}
			res.Changes = append(res.Changes, Change{Removed: true, Path: path})
		}
	}
	return res, nil
}
