package spawn

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
)

type logRecord struct{ msg, unit, stream string }

// logCapture is a slog.Handler that keeps the records it gets.
type logCapture struct {
	mu    sync.Mutex
	attrs []slog.Attr
	recs  *[]logRecord
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCapture) WithGroup(string) slog.Handler            { return h }
func (h *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &logCapture{attrs: append(slices.Clone(h.attrs), as...), recs: h.recs}
}

var captureMu sync.Mutex

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message}
	all := slices.Clone(h.attrs)
	r.Attrs(func(a slog.Attr) bool { all = append(all, a); return true })
	for _, a := range all {
		switch a.Key {
		case "unit":
			rec.unit = a.Value.String()
		case "stream":
			rec.stream = a.Value.String()
		}
	}
	captureMu.Lock()
	*h.recs = append(*h.recs, rec)
	captureMu.Unlock()
	return nil
}

func TestOutputToLog(t *testing.T) { bothPaths(t, testOutputToLog) }

func testOutputToLog(t *testing.T) {
	r := newReaper(t)
	var recs []logRecord
	_, st := run(t, r, &Spec{
		Unit: "web", Log: slog.New(&logCapture{recs: &recs}),
		Path: testBinary(t), Env: []string{"SPAWN_TEST_CHILD=print"},
		Stdout: Stdio{Kind: StdioLog}, Stderr: Stdio{Kind: StdioLog},
	})
	if st.Wait.ExitStatus() != 0 {
		t.Fatalf("child: %v", st)
	}
	long := strings.Repeat("x", MaxLogLine+100)
	var stdout []string
	var stderr []string
	for _, rec := range recs {
		if rec.unit != "web" {
			t.Errorf("record without unit=web: %+v", rec)
		}
		switch rec.stream {
		case "stdout":
			stdout = append(stdout, rec.msg)
		case "stderr":
			stderr = append(stderr, rec.msg)
		default:
			t.Errorf("record without stream: %+v", rec)
		}
	}
	want := []string{"line one", long[:MaxLogLine], long[MaxLogLine:], "line two"}
	if !slices.Equal(stdout, want) {
		t.Errorf("stdout records %q", stdout)
	}
	if !slices.Equal(stderr, []string{"oops"}) {
		t.Errorf("stderr records %q", stderr)
	}
}

func TestStderrInheritsLogPipe(t *testing.T) { bothPaths(t, testStderrInheritsLogPipe) }

func testStderrInheritsLogPipe(t *testing.T) {
	r := newReaper(t)
	var recs []logRecord
	run(t, r, &Spec{
		Unit: "web", Log: slog.New(&logCapture{recs: &recs}),
		Path: testBinary(t), Env: []string{"SPAWN_TEST_CHILD=print"},
		Stdout: Stdio{Kind: StdioLog}, Stderr: Stdio{Kind: StdioInherit},
	})
	if len(recs) != 5 {
		t.Errorf("got %d records, want 5 (stdout and stderr on one pipe): %q", len(recs), recs)
	}
}
