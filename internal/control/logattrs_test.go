package control

import (
	"encoding/json"
	"testing"
)

// A sockctl reads the attributes of an older sockd, which wrote them as
// "key=value" strings, and of a current one, which writes an object.
func TestLogAttrsBothForms(t *testing.T) {
	for in, want := range map[string]string{
		`["reason=restart requested","pid=42"]`:   `{"reason":"restart requested","pid":"42"}`,
		`{"reason":"restart requested","pid":42}`: `{"reason":"restart requested","pid":42}`,
	} {
		var as LogAttrs
		if err := json.Unmarshal([]byte(in), &as); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, err := json.Marshal(as)
		if err != nil || string(out) != want {
			t.Errorf("%s → %s, %v; want %s", in, out, err, want)
		}
	}
}
