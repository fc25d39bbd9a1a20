package logring

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
)

// Save and Load carry the records to the next image, before its own.
func TestSaveLoad(t *testing.T) {
	old := New(10)
	slog.New(old.Handler(slog.NewTextHandler(io.Discard, nil))).Info("before", "unit", "web.service", "pid", 7)
	var buf bytes.Buffer
	if err := old.Save(&buf); err != nil {
		t.Fatal(err)
	}
	next := New(10)
	slog.New(next.Handler(slog.NewTextHandler(io.Discard, nil))).Info("after", "unit", "web.socket")
	if err := next.Load(&buf); err != nil {
		t.Fatal(err)
	}
	got := next.Records("web")
	if len(got) != 2 || got[0].Message != "before" || got[1].Message != "after" || got[0].Attrs[0].String() != "pid=7" {
		t.Errorf("records after Load = %+v; want before (pid=7), then after", got)
	}
}
