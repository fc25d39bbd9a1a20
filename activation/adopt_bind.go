package activation

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// BindWith is Bind, except that each listener for which adopt returns a
// descriptor (>= 0) takes that descriptor, an inherited socket that
// Matches it, instead of binding a new one. Adopted sockets keep the
// options they were created with, and their file system nodes are not
// sockd's to remove.
//
// If a listener fails, the ones already made are closed, adopted ones
// included, and the nodes Bind created are removed.
func BindWith(unit string, s *units.Socket, adopt func(units.Listener) int) ([]*Listener, error) {
	return bindWith(unit, s, adopt, false)
}

// BindOwning is BindWith for sockets that an earlier image of sockd bound
// for this very unit (an upgrade): the file system nodes of adopted
// sockets and FIFOs are sockd's, so Remove removes them with
// RemoveOnStop=, as if Bind had made them.
func BindOwning(unit string, s *units.Socket, adopt func(units.Listener) int) ([]*Listener, error) {
	return bindWith(unit, s, adopt, true)
}

func bindWith(unit string, s *units.Socket, adopt func(units.Listener) int, owned bool) ([]*Listener, error) {
	if err := checkSymlinks(s); err != nil {
		return nil, fmt.Errorf("unit %s: %w", unit, err)
	}
	name := s.FileDescriptorName
	if name == "" {
		name = unit
	}
	out := make([]*Listener, 0, len(s.Listeners))
	for _, spec := range s.Listeners {
		var l *Listener
		fd := -1
		if adopt != nil {
			fd = adopt(spec)
		}
		if fd >= 0 {
			l = &Listener{spec: spec, fd: fd}
			if owned {
				l.node = ownedNode(s, spec)
			}
		} else {
			var err error
			if l, err = bindOne(s, spec); err != nil {
				for _, done := range out {
					done.discard()
				}
				return nil, fmt.Errorf("unit %s: listen %s: %w", unit, spec.Address, err)
			}
		}
		l.Name = name
		out = append(out, l)
	}
	return out, nil
}

// ownedNode describes the node of an adopted listener with a path, as
// bindOne would have made it; nil for sockets without one.
func ownedNode(s *units.Socket, spec units.Listener) *node {
	if !spec.Address.HasPath() {
		return nil
	}
	path := spec.Address.Path
	n := &node{path: path, removeOnStop: s.RemoveOnStop, links: s.Symlinks}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err == nil {
		n.dev, n.ino = uint64(st.Dev), st.Ino
	}
	return n
}
