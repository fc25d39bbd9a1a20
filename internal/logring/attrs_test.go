package logring

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// In JSON, attributes are an object of JSON values in order, not
// "key=value" strings (issue 18).
func TestAttrsJSON(t *testing.T) {
	r := New(4)
	log := slog.New(r.Handler(slog.NewTextHandler(io.Discard, nil)))
	log.Info("stopping", "unit", "web.service", "reason", "restart requested", "pid", 42, "ok", true,
		"after", 1500*time.Millisecond, "err", errors.New("boom"), slog.Group("g", "k", "v"))
	recs := r.Records("web")
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	data, err := json.Marshal(recs[0].Attrs)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"reason":"restart requested","pid":42,"ok":true,"after":"1.5s","err":"boom","g.k":"v"}`
	if string(data) != want {
		t.Errorf("attrs JSON = %s; want %s", data, want)
	}
	var back control.LogAttrs
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 6 || back[0].Key != "reason" || back[1].Value != json.Number("42") || back[0].String() != `reason="restart requested"` {
		t.Errorf("decoded attrs = %+v", back)
	}
}
