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
			return n.addLink(ln, false)
		case rerr != nil || !n.removeOnStop:
			return err
		}
		if rerr := unlinkIf(ln, fileID{}, fileID{}, target); rerr != nil {
			return rerr
		}
		err = os.Symlink(n.path, ln)
	}
	if err != nil {
		return err
	}
	return n.addLink(ln, true)
}

// addLink records the symlink ln and the identity of its directory.
func (n *node) addLink(ln string, made bool) error {
	id, err := parentID(ln)
	if err != nil {
		if made {
			_ = os.Remove(ln)
		}
		return fmt.Errorf("its directory: %w", err)
	}
	if n.linkParents == nil {
		n.linkParents = map[string]fileID{}
	}
	n.linkParents[ln] = id
	n.links = append(n.links, ln)
	if made {
		n.madeLinks = append(n.madeLinks, ln)
	}
	return nil
}

// removeLink removes the symlink ln if it still points at the node,
// through its directory as unlinkNode does.
func (n *node) removeLink(ln string) error {
	return unlinkIf(ln, n.linkParents[ln], fileID{}, n.path)
}
