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
	return bindWith(unit, s, adoptFD(adopt, nil))
}

// BindOwning is BindWith for sockets that an earlier image of sockd bound
// for this very unit (an upgrade): the file system nodes of adopted
// sockets and FIFOs are sockd's, so Remove removes them with
// RemoveOnStop=, as if Bind had made them.
func BindOwning(unit string, s *units.Socket, adopt func(units.Listener) int) ([]*Listener, error) {
	return bindWith(unit, s, adoptFD(adopt, s))
}

// Rebind is Bind for a unit whose listeners changed in a reload: each
// listener for which keep returns one of the unit's current Listeners
// (one with the same units.Fingerprint) takes over that Listener's
// descriptor and file system node, so that Remove still removes the node
// with RemoveOnStop=; the others are bound anew. A kept Listener is
// closed without closing its descriptor: it must not be used afterwards.
//
// If a listener fails, the ones already made are closed, kept ones
// included, and the nodes Bind created are removed.
func Rebind(unit string, s *units.Socket, keep func(units.Listener) *Listener) ([]*Listener, error) {
	return bindWith(unit, s, func(spec units.Listener) *Listener {
		if old := keep(spec); old != nil {
			return old.moveTo(spec)
		}
		return nil
	})
}

// adoptFD makes a Listener of the descriptor adopt returns for a spec, if
// any; with owner set, the Listener owns its node as BindOwning says.
func adoptFD(adopt func(units.Listener) int, owner *units.Socket) func(units.Listener) *Listener {
	return func(spec units.Listener) *Listener {
		fd := -1
		if adopt != nil {
			fd = adopt(spec)
		}
		if fd < 0 {
			return nil
		}
		l := &Listener{spec: spec, fd: fd}
		if owner != nil {
			l.node = ownedNode(owner, spec)
		}
		return l
	}
}

// moveTo returns a Listener for spec with l's descriptor and node, and
// marks l closed without closing the descriptor; nil if l is closed.
func (l *Listener) moveTo(spec units.Listener) *Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	n := &Listener{spec: spec, fd: l.fd, node: l.node}
	l.closed, l.node = true, nil
	return n
}

// bindWith makes every listener of s: the one take returns for it, or a
// new one.
func bindWith(unit string, s *units.Socket, take func(units.Listener) *Listener) ([]*Listener, error) {
	if err := checkSymlinks(s); err != nil {
		return nil, fmt.Errorf("unit %s: %w", unit, err)
	}
	name := s.FileDescriptorName
	if name == "" {
		name = unit
	}
	out := make([]*Listener, 0, len(s.Listeners))
	for _, spec := range s.Listeners {
		l := take(spec)
		if l == nil {
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
