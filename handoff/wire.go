package handoff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The protocol version this package speaks. A peer with another major
// version is refused; a higher minor version only adds fields, and what
// a peer may be sent in reply depends on the version of its request.
const (
	VersionMajor = 1
	// VersionMinor is 2. 1.1: the takeover conversation (OpTakeover);
	// 1.2: files packets in the compact encoding, sent only in reply
	// to a request of version 1.2 or later.
	VersionMinor = 2
)

// minorCompact is the first minor version whose peers read files packets
// in the compact encoding.
const minorCompact = 2

// Limits of the wire format.
const (
	// MaxFDsPerMessage is SCM_MAX_FD, the most fds Linux passes in one
	// sendmsg; Send splits larger sets into chunks.
	MaxFDsPerMessage = 253
	// MaxMessageSize bounds one packet, header and metadata included;
	// Send also splits a set whose metadata would not fit.
	MaxMessageSize = 64 << 10
	// MaxFiles bounds the files of one set: a receiver refuses a
	// header announcing more.
	MaxFiles = 1 << 16
	// MaxRequestSize bounds a request packet.
	MaxRequestSize = 4 << 10
)

// Limits on each metadata field, checked by both ends.
const (
	maxUnit        = 256 // systemd's UNIT_NAME_MAX
	maxName        = 255 // FDNAME= and FileDescriptorName=
	maxKind        = 64
	maxAddr        = 4096
	maxFingerprint = 16 << 10
	maxError       = 4096
	maxOp          = 64
)

// ErrVersion is wrapped by the error for a packet of a major version this
// package does not speak.
var ErrVersion = errors.New("unsupported handoff protocol version")

var magic = [4]byte{'S', 'K', 'D', 'H'}

const prefixLen = len(magic) + 2

// Packet types.
const (
	typeRequest = "request"
	typeError   = "error"
	typeFiles   = "files"
)

// header is the JSON object of every packet; which fields are used
// depends on Type.
type header struct {
	Type string `json:"type"`
	// request
	Op     string `json:"op,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Reason string `json:"reason,omitempty"` // OpAbort's
	// error
	Error string `json:"error,omitempty"`
	// files: this chunk's number, how many chunks and files the whole
	// set has, and the metadata of this chunk's fds, in order.
	Chunk  int        `json:"chunk"`
	Chunks int        `json:"chunks,omitempty"`
	Total  int        `json:"total"`
	Files  []fileMeta `json:"files,omitempty"`
}

// fileMeta is a File on the wire, without its fd.
type fileMeta struct {
	Unit        string `json:"unit"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Addr        string `json:"addr"`
	Fingerprint string `json:"fingerprint"`
}

// encodePacket returns the packet of h in the JSON encoding, which every
// peer of major version 1 reads.
func encodePacket(h *header) ([]byte, error) {
	body, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("handoff: encoding %s packet: %w", h.Type, err)
	}
	b := make([]byte, 0, prefixLen+len(body))
	b = append(b, magic[:]...)
	b = append(b, VersionMajor, VersionMinor)
	b = append(b, body...)
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("handoff: %s packet of %d bytes exceeds %d", h.Type, len(b), MaxMessageSize)
	}
	return b, nil
}

// decodePacket parses and checks one packet, in either encoding. It is
// the fuzzed decoder.
func decodePacket(b []byte) (*header, error) {
	if len(b) < prefixLen || !bytes.Equal(b[:len(magic)], magic[:]) {
		return nil, fmt.Errorf("handoff: not a handoff packet (%d bytes, no %q prefix)", len(b), magic[:])
	}
	if major, minor := b[4], b[5]; major != VersionMajor {
		return nil, fmt.Errorf("handoff: peer speaks version %d.%d, this side %d.%d: %w", major, minor, VersionMajor, VersionMinor, ErrVersion)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("handoff: packet of %d bytes exceeds %d", len(b), MaxMessageSize)
	}
	var h *header
	if body := b[prefixLen:]; len(body) > 0 && body[0] == compactMarker {
		var err error
		if h, err = decodeCompact(body[1:]); err != nil {
			return nil, fmt.Errorf("handoff: bad compact files packet: %w", err)
		}
	} else {
		h = new(header)
		if err := json.Unmarshal(body, h); err != nil {
			return nil, fmt.Errorf("handoff: bad packet header: %w", err)
		}
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("handoff: bad %s packet: %w", h.Type, err)
	}
	return h, nil
}

// check validates the fields of h for its type.
func (h *header) check() error {
	switch h.Type {
	case typeRequest:
		if h.Op == "" || len(h.Op) > maxOp || len(h.Unit) > maxUnit || len(h.Reason) > maxError {
			return fmt.Errorf("op %.64q unit %.64q: empty or too long", h.Op, h.Unit)
		}
		return nil
	case typeError:
		if h.Error == "" || len(h.Error) > maxError {
			return fmt.Errorf("error message of %d bytes: want 1 to %d", len(h.Error), maxError)
		}
		return nil
	case typeFiles:
		return h.checkChunk()
	}
	return fmt.Errorf("unknown packet type %.64q", h.Type)
}

// checkChunk validates a files packet on its own; Receive checks that the
// chunks agree with each other.
func (h *header) checkChunk() error {
	switch {
	case h.Total < 0 || h.Total > MaxFiles:
		return fmt.Errorf("total %d files: want 0 to %d", h.Total, MaxFiles)
	case h.Chunks < 1 || h.Chunks > max(1, h.Total):
		return fmt.Errorf("%d chunks for %d files", h.Chunks, h.Total)
	case h.Chunk < 0 || h.Chunk >= h.Chunks:
		return fmt.Errorf("chunk %d of %d", h.Chunk, h.Chunks)
	case len(h.Files) > MaxFDsPerMessage || len(h.Files) > h.Total:
		return fmt.Errorf("%d files in one chunk of a set of %d (at most %d a chunk)", len(h.Files), h.Total, MaxFDsPerMessage)
	case len(h.Files) == 0 && h.Total > 0:
		return fmt.Errorf("empty chunk %d of a set of %d files", h.Chunk, h.Total)
	}
	for i := range h.Files {
		if err := h.Files[i].check(); err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
	}
	return nil
}

// check validates the lengths and encoding of m's fields.
func (m *fileMeta) check() error {
	fields := []struct {
		name, v string
		max     int
	}{
		{"unit", m.Unit, maxUnit},
		{"name", m.Name, maxName},
		{"kind", m.Kind, maxKind},
		{"addr", m.Addr, maxAddr},
		{"fingerprint", m.Fingerprint, maxFingerprint},
	}
	for _, f := range fields {
		if len(f.v) > f.max {
			return fmt.Errorf("%s of %d bytes exceeds %d", f.name, len(f.v), f.max)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%s %.64q is not UTF-8", f.name, f.v)
		}
	}
	return nil
}
