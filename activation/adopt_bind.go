package activation

import (
	"fmt"

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
