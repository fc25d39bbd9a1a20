package handoff

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary packets to the decoder: it must never panic,
// and a packet it accepts must encode back to one it decodes to the same
// header and that satisfies the limits.
func FuzzDecode(f *testing.F) {
	for _, h := range []*header{
		{Type: typeRequest, Op: OpListeners, Unit: "web"},
		{Type: typeError, Error: "unit web.socket: not loaded"},
		{Type: typeFiles, Chunk: 0, Chunks: 1, Total: 0},
		{Type: typeFiles, Chunk: 1, Chunks: 3, Total: 600, Files: []fileMeta{
			{Unit: "web", Name: "http", Kind: KindStream, Addr: "127.0.0.1:80", Fingerprint: `stream 127.0.0.1:80 {"Backlog":4096}`},
			{Unit: "web", Name: "fifo", Kind: KindFIFO, Addr: "/run/web.fifo"},
		}},
	} {
		b, err := encodePacket(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodePacket(b)
		if err != nil {
			return
		}
		if h.Type == typeFiles && (len(h.Files) > MaxFDsPerMessage || h.Chunk >= h.Chunks || h.Total > MaxFiles) {
			t.Fatalf("accepted a files packet beyond the limits: %+v", h)
		}
		again, err := encodePacket(h)
		if err != nil {
			t.Fatalf("re-encoding an accepted packet: %v", err)
		}
		h2, err := decodePacket(again)
		if err != nil {
			t.Fatalf("decoding a re-encoded packet: %v\n%q", err, again)
		}
		if len(h.Files) == 0 {
			h.Files = nil // [] and an absent list are the same
		}
		if !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip changed the header:\n%+v\n%+v", h, h2)
		}
	})
}
