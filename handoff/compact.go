package handoff

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The compact encoding of a files packet, since version 1.2; see
// "Packets" in the package doc. After the prefix comes the byte 'F' (no
// JSON text starts with it), then unsigned varints (encoding/binary's
// Uvarint, here of at most 4 bytes): the chunk's number, how many chunks and files the set has,
// how many files this chunk lists, and how many fields each file has.
// Then every file's fields, each a varint length and that many bytes:
// unit, name, kind, addr, fingerprint, then any a later minor version
// adds, which a reader skips, as it ignores bytes after the last file.
const compactMarker = 'F'

// Fields of a file in the compact encoding: the ones this version
// writes, and the most a reader accepts.
const (
	compactFields    = 5
	maxCompactFields = 64
)

// appendCompactHead appends the prefix and the counts of a compact
// files packet to b.
func appendCompactHead(b []byte, chunk, chunks, total, files int) []byte {
	b = append(b, magic[:]...)
	b = append(b, VersionMajor, VersionMinor, compactMarker)
	for _, v := range [...]int{chunk, chunks, total, files, compactFields} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return b
}

// appendCompactFile appends the fields of one file to b.
func appendCompactFile(b []byte, m *fileMeta) []byte {
	for _, s := range [...]string{m.Unit, m.Name, m.Kind, m.Addr, m.Fingerprint} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// compactFileSize is the size of m in the compact encoding.
func compactFileSize(m *fileMeta) int {
	n := 0
	for _, s := range [...]string{m.Unit, m.Name, m.Kind, m.Addr, m.Fingerprint} {
		n += uvarintLen(len(s)) + len(s)
	}
	return n
}

func uvarintLen(v int) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// encodeCompact returns the compact packet of h, a files packet.
func encodeCompact(h *header) ([]byte, error) {
	if h.Type != typeFiles {
		return nil, fmt.Errorf("handoff: compact encoding of a %s packet", h.Type)
	}
	b := appendCompactHead(nil, h.Chunk, h.Chunks, h.Total, len(h.Files))
	for i := range h.Files {
		b = appendCompactFile(b, &h.Files[i])
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("handoff: files packet of %d bytes exceeds %d", len(b), MaxMessageSize)
	}
	return b, nil
}

var errCompactShort = errors.New("packet ends early")

// compactReader reads a compact packet's body. The fields it returns are
// substrings of s, one copy of the whole body, so that decoding a packet
// costs one allocation for its strings, not one a field.
type compactReader struct {
	s   string
	off int
	err error
}

// count reads an unsigned varint of at most 4 bytes (2^28-1, so that it
// fits an int anywhere; checkChunk applies the real limits).
func (r *compactReader) count(what string) int {
	if r.err != nil {
		return 0
	}
	v := 0
	for shift := 0; ; shift += 7 {
		if r.off == len(r.s) {
			r.err = fmt.Errorf("%s: %w", what, errCompactShort)
			return 0
		}
		c := r.s[r.off]
		r.off++
		v |= int(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		if shift >= 21 { // a fifth byte would follow
			r.err = fmt.Errorf("%s: varint of more than 4 bytes", what)
			return 0
		}
	}
	return v
}

func (r *compactReader) field(what string) string {
	n := r.count(what)
	if r.err != nil {
		return ""
	}
	if n > len(r.s)-r.off {
		r.err = fmt.Errorf("%s of %d bytes: %w", what, n, errCompactShort)
		return ""
	}
	s := r.s[r.off : r.off+n]
	r.off += n
	return s
}

// decodeCompact parses body, what follows the prefix and the marker of a
// compact files packet; decodePacket checks the result.
func decodeCompact(body []byte) (*header, error) {
	r := &compactReader{s: string(body)}
	h := &header{Type: typeFiles}
	h.Chunk, h.Chunks, h.Total = r.count("chunk"), r.count("chunks"), r.count("total")
	n, fields := r.count("files"), r.count("fields")
	switch {
	case r.err != nil:
		return nil, r.err
	case n > MaxFDsPerMessage:
		return nil, fmt.Errorf("%d files in one chunk (at most %d)", n, MaxFDsPerMessage)
	case n > 0 && (fields < compactFields || fields > maxCompactFields):
		return nil, fmt.Errorf("%d fields a file: want %d to %d", fields, compactFields, maxCompactFields)
	}
	if n > 0 {
		h.Files = make([]fileMeta, n)
	}
	for i := range h.Files {
		m := &h.Files[i]
		m.Unit, m.Name, m.Kind = r.field("unit"), r.field("name"), r.field("kind")
		m.Addr, m.Fingerprint = r.field("addr"), r.field("fingerprint")
		for range fields - compactFields {
			r.field("a later version's field")
		}
		if r.err != nil {
			return nil, fmt.Errorf("file %d: %w", i, r.err)
		}
	}
	return h, nil
}

// compactTotal returns the set's total that b, the head of a compact
// files packet, announces, or 0 if b is not one.
func compactTotal(b []byte) int {
	if len(b) <= prefixLen || [4]byte(b) != magic || b[4] != VersionMajor || b[prefixLen] != compactMarker {
		return 0
	}
	r := &compactReader{s: string(b[prefixLen+1:])}
	r.count("chunk")
	r.count("chunks")
	total := r.count("total")
	if r.err != nil {
		return 0
	}
	return min(total, MaxFiles)
}
