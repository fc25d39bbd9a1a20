package handoff

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary packets to the decoder: it must never panic,
// and a packet it accepts must encode back, in its own encoding, to one
// it decodes to the same header and that satisfies the limits; a files
// packet must do so in the other encoding too, where it fits.
func FuzzDecode(f *testing.F) {
	files := &header{Type: typeFiles, Chunk: 1, Chunks: 3, Total: 600, Files: []fileMeta{
		{Unit: "web", Name: "http", Kind: KindStream, Addr: "127.0.0.1:80", Fingerprint: `stream 127.0.0.1:80 {"Backlog":4096}`},
		{Unit: "web", Name: "fifo", Kind: KindFIFO, Addr: "/run/web.fifo"},
	}}
	for _, h := range []*header{
		{Type: typeRequest, Op: OpListeners, Unit: "web"},
		{Type: typeError, Error: "unit web.socket: not loaded"},
		{Type: typeFiles, Chunk: 0, Chunks: 1, Total: 0},
		files,
	} {
		b, err := encodePacket(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if h.Type == typeFiles {
			if b, err = encodeCompact(h); err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodePacket(b)
		if err != nil {
			return
		}
		if h.Type == typeFiles && (len(h.Files) > MaxFDsPerMessage || h.Chunk >= h.Chunks || h.Total > MaxFiles) {
			t.Fatalf("accepted a files packet beyond the limits: %+v", h)
		}
		if len(h.Files) == 0 {
			h.Files = nil // [] and an absent list are the same
		}
		compact := b[prefixLen] == compactMarker
		roundTrip(t, h, compact, true)
		if h.Type == typeFiles {
			roundTrip(t, h, !compact, false)
		}
	})
}

// roundTrip encodes h, in the compact encoding or in JSON, decodes the
// packet and checks that the header is the same. Encoding may fail
// only if mustFit is false (escaped JSON is longer than the compact
// encoding).
func roundTrip(t *testing.T, h *header, compact, mustFit bool) {
	t.Helper()
	encode := encodePacket
	if compact {
		encode = encodeCompact
	}
	again, err := encode(h)
	if err != nil {
		if mustFit {
			t.Fatalf("re-encoding an accepted packet (compact %v): %v", compact, err)
		}
		return
	}
	h2, err := decodePacket(again)
	if err != nil {
		t.Fatalf("decoding a re-encoded packet (compact %v): %v\n%q", compact, err, again)
	}
	if !reflect.DeepEqual(h, h2) {
		t.Fatalf("round trip (compact %v) changed the header:\n%+v\n%+v", compact, h, h2)
	}
}
