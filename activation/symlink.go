package activation

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// link makes the unit's Symlinks= point at the node, creating their
// parent directories with dmode. On error, undo removes what was made.
func (n *node) link(links []string, dmode uint32) error {
	for _, ln := range links {
		dirs, err := mkdirParents(ln, dmode)
		n.dirs = append(n.dirs, dirs...)
		if err == nil {
			err = n.symlink(ln)
		}
		if err != nil {
			return fmt.Errorf("Symlinks=%s: %w", ln, err)
		}
	}
	return nil
}

// symlink makes one symlink. An existing symlink to the node is kept;
// another symlink is replaced only with RemoveOnStop=, as systemd does;
// anything else is left alone and is an error.
func (n *node) symlink(ln string) error {
	err := os.Symlink(n.path, ln)
	if errors.Is(err, fs.ErrExist) {
		target, rerr := os.Readlink(ln)
		switch {
		case rerr == nil && target == n.path:
			n.links = append(n.links, ln)
			return nil
		case rerr != nil || !n.removeOnStop:
			return err
		}
		if rerr := os.Remove(ln); rerr != nil {
			return rerr
		}
		err = os.Symlink(n.path, ln)
	}
	if err != nil {
		return err
	}
	n.links = append(n.links, ln)
	n.madeLinks = append(n.madeLinks, ln)
	return nil
}

// removeLink removes the symlink ln if it still points at target.
func removeLink(ln, target string) error {
	if t, err := os.Readlink(ln); err != nil || t != target {
		return nil
	}
	if err := os.Remove(ln); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
