package handoff

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// TestDecode checks which packets the decoder accepts: a newer minor
// version with fields it does not know is fine, anything else outside
// the format is refused with an error saying why.
func TestDecode(t *testing.T) {
	const p = "SKDH\x01\x00"
	for _, tc := range []struct {
		name, packet, wantErr string
	}{
		{"request", p + `{"type":"request","op":"listeners","unit":"web"}`, ""},
		{"newer minor, unknown fields", "SKDH\x01\x09" + `{"type":"files","chunk":0,"chunks":1,"total":1,"generation":3,"files":[{"unit":"web","kind":"stream","cookie":42}]}`, ""},
		{"newer major", "SKDH\x02\x00" + `{"type":"request","op":"listeners"}`, "peer speaks version 2.0"},
		{"short", "SKD", "not a handoff packet"},
		{"not JSON", p + `{"type":`, "bad packet header"},
		{"unknown type", p + `{"type":"dump"}`, `unknown packet type "dump"`},
		{"request without op", p + `{"type":"request","unit":"web"}`, "empty or too long"},
		{"empty error", p + `{"type":"error"}`, "error message of 0 bytes"},
		{"negative total", p + `{"type":"files","chunks":1,"total":-1}`, "total -1 files"},
		{"too many files", p + `{"type":"files","chunks":1,"total":100000}`, "total 100000 files"},
		{"no chunks", p + `{"type":"files","total":0}`, "0 chunks for 0 files"},
		{"more chunks than files", p + `{"type":"files","chunks":3,"total":2,"files":[{}]}`, "3 chunks for 2 files"},
		{"chunk past the end", p + `{"type":"files","chunk":1,"chunks":1,"total":1,"files":[{}]}`, "chunk 1 of 1"},
		{"empty chunk", p + `{"type":"files","chunk":0,"chunks":1,"total":1}`, "empty chunk 0"},
		{"more files than total", p + `{"type":"files","chunks":1,"total":1,"files":[{},{}]}`, "2 files in one chunk of a set of 1"},
		{"long unit", p + `{"type":"files","chunks":1,"total":1,"files":[{"unit":"` + strings.Repeat("u", 257) + `"}]}`, "unit of 257 bytes exceeds 256"},
		{"bad UTF-8", p + `{"type":"files","chunks":1,"total":1,"files":[{"name":"` + "\xff" + `"}]}`, ""},
	} {
		_, err := decodePacket([]byte(tc.packet))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v; want it accepted", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v; want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
	if _, err := decodePacket([]byte("SKDH\x02\x00{}")); !errors.Is(err, ErrVersion) {
		t.Errorf("major version 2: %v; want ErrVersion", err)
	}
}

// compactBytes builds a compact files packet by hand: the counts, then
// the fields of every file.
func compactBytes(counts []int, fields ...string) string {
	b := []byte("SKDH\x01\x02F")
	for _, c := range counts {
		b = binary.AppendUvarint(b, uint64(c))
	}
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return string(b)
}

// TestDecodeCompact checks which compact files packets the decoder
// accepts, and what it reads from them.
func TestDecodeCompact(t *testing.T) {
	web := []string{"web", "http", "stream", "127.0.0.1:80", "fp"}
	for _, tc := range []struct {
		name, packet, wantErr string
	}{
		{"one file", compactBytes([]int{0, 1, 1, 1, 5}, web...), ""},
		{"empty set", compactBytes([]int{0, 1, 0, 0, 0}), ""},
		{"a later version's fields and trailer", compactBytes([]int{0, 1, 1, 1, 7}, append(web, "x", "yz", "trailer")...), ""},
		{"too few fields", compactBytes([]int{0, 1, 1, 1, 4}, web[:4]...), "4 fields a file: want 5 to 64"},
		{"too many fields", compactBytes([]int{0, 1, 1, 1, 65}, web...), "65 fields a file"},
		{"too many files", compactBytes([]int{0, 1, 300, 254, 5}), "254 files in one chunk"},
		{"too many in the set", compactBytes([]int{0, 1, 70000, 1, 5}, web...), "total 70000 files"},
		{"chunk past the end", compactBytes([]int{1, 1, 1, 1, 5}, web...), "chunk 1 of 1"},
		{"truncated field", compactBytes([]int{0, 1, 1, 1, 5}, web...)[:30], "packet ends early"},
		{"truncated counts", "SKDH\x01\x02F\x00\x01", "total: packet ends early"},
		{"long varint", "SKDH\x01\x02F\x80\x80\x80\x80\x01", "chunk: varint of more than 4 bytes"},
		{"bad UTF-8", compactBytes([]int{0, 1, 1, 1, 5}, "web", "\xff", "stream", "", ""), "name \"\\xff\" is not UTF-8"},
		{"long unit", compactBytes([]int{0, 1, 1, 1, 5}, strings.Repeat("u", 257), "", "", "", ""), "unit of 257 bytes exceeds 256"},
		{"newer major", "SKDH\x02\x00F", "peer speaks version 2.0"},
	} {
		h, err := decodePacket([]byte(tc.packet))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v; want it accepted", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v; want an error containing %q", tc.name, err, tc.wantErr)
		case err == nil && len(h.Files) > 0 && h.Files[0] != (fileMeta{"web", "http", "stream", "127.0.0.1:80", "fp"}):
			t.Errorf("%s: read %+v; want web http", tc.name, h.Files[0])
		}
	}
}

// TestCompactTotal checks what Receive's peek reads from the head of a
// packet: the set's total, or 0 if the packet is not a compact one.
func TestCompactTotal(t *testing.T) {
	json, _ := encodePacket(&header{Type: typeFiles, Chunks: 40, Total: 10000, Files: []fileMeta{{}}})
	for _, tc := range []struct {
		head string
		want int
	}{
		{compactBytes([]int{0, 40, 10000}), 10000},
		{compactBytes([]int{0, 40, 10000, 253, 5}, "web"), 10000},
		{compactBytes([]int{0, 1, 1 << 20}), MaxFiles},
		{compactBytes([]int{0, 40}), 0},
		{string(json[:16]), 0},
		{"SKDH\x02\x00F\x00\x01\x05", 0},
		{"", 0},
	} {
		if got := compactTotal([]byte(tc.head)); got != tc.want {
			t.Errorf("compactTotal(%q) = %d; want %d", tc.head, got, tc.want)
		}
	}
}
