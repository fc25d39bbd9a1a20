package upgrade

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/units"
)

// The units' settings in a FormatKeyed state. Units generated from one
// template differ only in their names, files and listeners, so the
// settings go as prototypes — each distinct unit with its name, files
// and listeners left out, once — and, per unit, its prototype's index
// and what was left out. The new image builds each unit as a copy of
// its prototype: units of one prototype share its slices, which is
// safe because a unit's settings are never changed in place (a reload
// replaces them).

// Settings are the units' settings, encoded before the units are
// parked (nothing changes them until the execve or the rollback).
type Settings struct {
	parts   [][]byte               // the prototypes, then the records
	encoded map[string]*units.Unit // what was encoded, by unit
}

// settingsRecord is one unit's settings: its prototype and what differs.
type settingsRecord struct {
	Proto     int
	Name      string
	Files     []string
	Listeners []units.Listener
	Service   string
}

// protoOf returns u without what settingsRecord carries.
func protoOf(u *units.Unit) units.Unit {
	p := *u
	p.Name, p.Files, p.Where = "", nil, nil
	p.Socket.Listeners, p.Service.Name = nil, ""
	return p
}

// EncodeSettings encodes the settings of cfgs, on every CPU.
func EncodeSettings(cfgs []*units.Unit) (*Settings, error) {
	keys := make([]string, len(cfgs))
	errs := make([]error, partsFor(len(cfgs)))
	inParts(len(cfgs), len(errs), func(w, lo, hi int) {
		for i := lo; i < hi && errs[w] == nil; i++ {
			var b []byte
			b, errs[w] = Marshal(protoOf(cfgs[i]))
			keys[i] = string(b)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("encoding the units' settings: %w", err)
	}
	index := map[string]int{}
	var protos []units.Unit
	recs := make([]settingsRecord, len(cfgs))
	encoded := make(map[string]*units.Unit, len(cfgs))
	for i, u := range cfgs {
		p, ok := index[keys[i]]
		if !ok {
			p = len(protos)
			index[keys[i]] = p
			protos = append(protos, protoOf(u))
		}
		recs[i] = settingsRecord{Proto: p, Name: u.Name, Files: u.Files, Listeners: u.Socket.Listeners, Service: u.Service.Name}
		encoded[u.Name] = u
	}
	pb, err := Marshal(protos)
	if err != nil {
		return nil, fmt.Errorf("encoding the units' settings: %w", err)
	}
	parts, err := encodeSplit(recs)
	if err != nil {
		return nil, fmt.Errorf("encoding the units' settings: %w", err)
	}
	return &Settings{parts: append([][]byte{pb}, parts...), encoded: encoded}, nil
}

// Parts is how many parts the settings take.
func (s *Settings) Parts() int { return len(s.parts) }

// decodeSettings decodes the parts EncodeSettings made.
func decodeSettings(parts [][]byte) ([]*units.Unit, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	var protos []units.Unit
	protosErr := make(chan error, 1)
	go func() { protosErr <- Unmarshal(parts[0], &protos) }()
	recs, err := decodeSplit[settingsRecord](parts[1:])
	if perr := <-protosErr; perr != nil {
		return nil, fmt.Errorf("prototypes: %w", perr)
	}
	if err != nil {
		return nil, err
	}
	var out []*units.Unit
	for _, part := range recs {
		for _, r := range part {
			if r.Proto < 0 || r.Proto >= len(protos) {
				return nil, fmt.Errorf("unit %s: prototype %d of %d", r.Name, r.Proto, len(protos))
			}
			u := new(units.Unit)
			*u = protos[r.Proto]
			u.Name, u.Files, u.Socket.Listeners, u.Service.Name = r.Name, r.Files, r.Listeners, r.Service
			out = append(out, u)
		}
	}
	return out, nil
}

// FileID identifies the open file behind an fd across the execve: the
// fd, and the device and inode number fstat(2) gave the old image. The
// new image adopts an inherited listener whose fd still has them without
// inspecting it further (activation.Matches: three system calls, a
// quarter of the time the new image took to restore 10,000 units): it
// is the socket the old image had bound or adopted, and checked, for
// the same unit with the same settings.
type FileID struct {
	FD       int
	Dev, Ino uint64
}

// ListenerIDs identifies ls; a listener that fstat fails on is left out
// (the new image then checks it with activation.Matches).
func ListenerIDs(ls []*activation.Listener) []FileID {
	ids := make([]FileID, 0, len(ls))
	for _, l := range ls {
		fd := l.Fd()
		var st unix.Stat_t
		if fd < 0 || unix.Fstat(fd, &st) != nil {
			continue
		}
		ids = append(ids, FileID{FD: fd, Dev: st.Dev, Ino: st.Ino})
	}
	return ids
}

// SameFile reports whether fd is the file ids says it is.
func SameFile(fd int, ids []FileID) bool {
	for _, id := range ids {
		if id.FD != fd {
			continue
		}
		var st unix.Stat_t
		return unix.Fstat(fd, &st) == nil && st.Dev == id.Dev && st.Ino == id.Ino
	}
	return false
}
