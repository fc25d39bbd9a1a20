package logthrottle

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func newTest(interval time.Duration) (*Throttle, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	th := New(slog.New(slog.NewTextHandler(&buf, nil)), interval)
	now := time.Unix(1000, 0)
	th.now = func() time.Time { return now }
	return th, &buf, &now
}

func TestOneLinePerSourcePerInterval(t *testing.T) {
	th, buf, now := newTest(time.Second)
	for range 1000 {
		th.Warn("uid 65534", "refused", "uid", 65534)
		th.Warn("uid 1000", "refused", "uid", 1000)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("got %d lines for 2 sources in one interval; want 2:\n%s", n, buf)
	}
	buf.Reset()
	*now = now.Add(time.Second)
	if !th.Warn("uid 65534", "refused", "uid", 65534) {
		t.Fatal("first event of a new interval was not logged")
	}
	if got := buf.String(); !strings.Contains(got, "suppressed=999") || !strings.Contains(got, "interval=1s") {
		t.Errorf("line after the interval: %q; want suppressed=999 interval=1s", got)
	}
	buf.Reset()
	*now = now.Add(2 * time.Second)
	th.Warn("uid 65534", "refused")
	if strings.Contains(buf.String(), "suppressed") {
		t.Errorf("nothing was suppressed, yet: %q", buf)
	}
}

func TestSourcesAreBounded(t *testing.T) {
	th, buf, _ := newTest(time.Minute)
	for i := range 3 * MaxSources {
		th.Warn(fmt.Sprint(i), "refused")
	}
	if len(th.windows) > MaxSources {
		t.Errorf("%d windows; want at most %d", len(th.windows), MaxSources)
	}
	if n := strings.Count(buf.String(), "\n"); n != 3*MaxSources {
		t.Errorf("%d lines for %d distinct sources", n, 3*MaxSources)
	}
}

func TestDisabledLevelCostsNothing(t *testing.T) {
	var buf bytes.Buffer
	th := New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})), 0)
	if th.Warn("x", "refused") || buf.Len() != 0 || len(th.windows) != 0 {
		t.Errorf("a disabled level logged or tracked: %q, %d windows", buf.String(), len(th.windows))
	}
}
