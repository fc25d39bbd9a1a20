package logring

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestHandlerKeepsLastRecordsPerUnit(t *testing.T) {
	var out bytes.Buffer
	r := New(3)
	log := slog.New(r.Handler(slog.NewTextHandler(&out, nil)))
	web := log.With("unit", "web.socket")
	for i := range 5 {
		web.Info("event", "n", i)
	}
	log.Warn("service exited", "unit", "db.service", "status", "code=exited, status=1/FAILURE")
	log.Info("no unit here")
	log.Info("instance", "unit", "web@1-2.service")

	got := r.Records("web.service")
	var msgs []string
	for _, rec := range got {
		var as []string
		for _, a := range rec.Attrs {
			as = append(as, a.String())
		}
		msgs = append(msgs, rec.Message+" "+strings.Join(as, " "))
	}
	want := []string{"event n=3", "event n=4", "instance "}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Errorf("web records = %q, want %q", msgs, want)
	}
	db := r.Records("db")
	if len(db) != 1 || db[0].Level != "WARN" || db[0].Attrs[0].String() != `status="code=exited, status=1/FAILURE"` {
		t.Errorf("db records = %+v", db)
	}
	if r.Records("nothing") != nil {
		t.Error("records for an unknown unit")
	}
	if n := strings.Count(out.String(), "\n"); n != 8 {
		t.Errorf("next handler got %d lines, want 8:\n%s", n, out.String())
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"web.socket": "web", "web.service": "web", "web@x.y.service": "web", "web": "web", "a.b.socket": "a.b",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}
