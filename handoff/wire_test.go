package handoff

import (
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
