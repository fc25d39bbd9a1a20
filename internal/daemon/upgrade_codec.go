package daemon

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
)

// A compact encoding for the two records the upgrade state holds once per
// unit: a unit's settings as a delta of its prototype (configDelta) and
// the saved state of a unit without processes (the idle ones). gob took
// 1–2 µs per unit for each, 10–25 ms of the pause at 10,000 units; this
// takes a tenth of it. It names no field, so TestCodecFields fails when
// one of the encoded types gains a field: the codec must then learn it.
// Everything else goes through gob.

// encoder appends to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int)     { e.b = binary.AppendVarint(e.b, int64(v)) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// decoder reads what encoder wrote; the first error sticks and every
// read after it returns zero.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated record")

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) bool() bool { return d.uint() != 0 }

// bytes returns the next n-byte string's bytes, not copied.
func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) str() string { return string(d.bytes()) }

// count reads a length whose elements take at least one byte each.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		if d.err == nil {
			d.err = errShort
		}
		return 0
	}
	return int(n)
}

// strs reads a list; empty is nil.
func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) listener(l units.Listener) {
	a := l.Address
	e.str(string(l.Kind))
	e.str(string(a.Family))
	ip, _ := a.IP.MarshalBinary() // cannot fail
	e.str(string(ip))
	e.uint(uint64(a.Port))
	e.bool(a.BarePort)
	e.str(a.Path)
	e.uint(uint64(a.CID))
}

func (d *decoder) listener() units.Listener {
	var l units.Listener
	l.Kind = units.ListenerKind(d.str())
	l.Address.Family = units.Family(d.str())
	if ip := d.bytes(); d.err == nil {
		if err := l.Address.IP.UnmarshalBinary(ip); err != nil {
			d.err = err
		}
	}
	l.Address.Port = uint32(d.uint())
	l.Address.BarePort = d.bool()
	l.Address.Path = d.str()
	l.Address.CID = uint32(d.uint())
	return l
}

// appendDelta encodes c.
func appendDelta(b []byte, c *configDelta) []byte {
	e := encoder{b}
	e.uint(uint64(c.Proto))
	e.str(c.Name)
	e.strs(c.Files)
	e.uint(uint64(len(c.Listeners)))
	for _, l := range c.Listeners {
		e.listener(l)
	}
	e.str(c.ServiceName)
	return e.b
}

// delta decodes what appendDelta encoded.
func (d *decoder) delta() configDelta {
	var c configDelta
	c.Proto = int(d.uint())
	c.Name = d.str()
	c.Files = d.strs()
	if n := d.count(); n > 0 {
		c.Listeners = make([]units.Listener, n)
		for i := range c.Listeners {
			c.Listeners[i] = d.listener()
		}
	}
	c.ServiceName = d.str()
	return c
}

// compactSaved reports whether appendSaved can encode s: no settings, no
// process.
func compactSaved(s *supervise.Saved) bool {
	return s.Config == nil && s.Main == nil && len(s.Instances) == 0
}

// appendSaved encodes a unit's saved state (compactSaved) and its
// listeners' identities.
func appendSaved(b []byte, name string, s *supervise.Saved, ids []fileID) []byte {
	e := encoder{b}
	e.str(name)
	e.uint(uint64(len(s.Listeners)))
	for _, l := range s.Listeners {
		e.str(l.Addr)
		e.int(l.FD)
	}
	e.uint(uint64(len(s.FDStore)))
	for _, f := range s.FDStore {
		e.str(f.Name)
		e.int(f.FD)
		e.bool(f.NoPoll)
	}
	e.str(s.Failed)
	c := s.Counters
	e.int(c.Activations)
	e.int(c.Restarts)
	e.int(c.Accepted)
	e.int(c.Refused)
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		e.int(id.FD)
		e.uint(id.Dev)
		e.uint(id.Ino)
	}
	return e.b
}

// saved decodes what appendSaved encoded.
func (d *decoder) saved() savedUnit {
	u := savedUnit{Name: d.str(), Saved: &supervise.Saved{}}
	s := u.Saved
	if n := d.count(); n > 0 {
		s.Listeners = make([]supervise.SavedListener, n)
		for i := range s.Listeners {
			s.Listeners[i] = supervise.SavedListener{Addr: d.str(), FD: d.int()}
		}
	}
	if n := d.count(); n > 0 {
		s.FDStore = make([]supervise.SavedFD, n)
		for i := range s.FDStore {
			s.FDStore[i] = supervise.SavedFD{Name: d.str(), FD: d.int(), NoPoll: d.bool()}
		}
	}
	s.Failed = d.str()
	s.Counters = supervise.Counters{Activations: d.int(), Restarts: d.int(), Accepted: d.int(), Refused: d.int()}
	if n := d.count(); n > 0 {
		u.Listeners = make([]fileID, n)
		for i := range u.Listeners {
			u.Listeners[i] = fileID{FD: d.int(), Dev: d.uint(), Ino: d.uint()}
		}
	}
	return u
}

// decodeRecords decodes a part of records, each read by next.
func decodeRecords[T any](b []byte, next func(*decoder) T) ([]T, error) {
	d := decoder{b: b}
	n := d.count()
	out := make([]T, 0, n)
	for range n {
		out = append(out, next(&d))
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the records", len(d.b))
	}
	return out, d.err
}

// encodeRecords encodes xs with add, in as many parts as there are
// CPUs (fewer for few xs; at least one), in parallel; each part starts
// with its count.
func encodeRecords[T any](xs []T, add func([]byte, *T) []byte) [][]byte {
	parts := make([][]byte, partsFor(len(xs)))
	inParts(len(xs), len(parts), func(i, lo, hi int) {
		b := binary.AppendUvarint(make([]byte, 0, 64*(hi-lo)), uint64(hi-lo))
		for j := lo; j < hi; j++ {
			b = add(b, &xs[j])
		}
		parts[i] = b
	})
	return parts
}

// decodeParts decodes parts that encodeRecords made, in parallel.
func decodeParts[T any](parts [][]byte, next func(*decoder) T) ([][]T, error) {
	out := make([][]T, len(parts))
	errs := make([]error, len(parts))
	inParts(len(parts), len(parts), func(i, _, _ int) {
		if out[i], errs[i] = decodeRecords(parts[i], next); errs[i] != nil {
			errs[i] = fmt.Errorf("part %d: %w", i+1, errs[i])
		}
	})
	return out, errors.Join(errs...)
}
