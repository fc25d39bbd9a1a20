package supervise

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestInstanceTable: both limits, and nothing left behind once every
// instance is removed.
func TestInstanceTable(t *testing.T) {
	var tb instanceTable
	add := func(source string, max, perSource int) (*liveInstance, error) {
		inst := &liveInstance{Instance: Instance{Name: source, Since: time.Now()}, source: source}
		return inst, tb.admit(inst, max, perSource)
	}
	a, err := add("10.0.0.1", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := add("10.0.0.1", 3, 2)
	if _, err := add("10.0.0.1", 3, 2); err == nil || !strings.Contains(err.Error(), "(2) from source 10.0.0.1") {
		t.Errorf("third from one source: %v", err)
	}
	c, err := add("10.0.0.2", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := add("10.0.0.3", 3, 0); err == nil || !strings.Contains(err.Error(), "too many incoming connections (3)") {
		t.Errorf("fourth: %v", err)
	}
	if l := tb.list(); len(l) != 3 || l[0].Name != "10.0.0.1" || l[2].Name != "10.0.0.2" {
		t.Errorf("list %+v", l)
	}
	for _, inst := range []*liveInstance{a, b, c, c} {
		tb.remove(inst)
	}
	if len(tb.byID) != 0 || len(tb.perSource) != 0 {
		t.Errorf("left behind: %v %v", tb.byID, tb.perSource)
	}
}

// TestLogLimiter: one record per interval; the ones held back are
// counted, and flushed when the interval has passed.
func TestLogLimiter(t *testing.T) {
	var lines []string
	l := newLogLimiter(func(msg string, args ...any) {
		lines = append(lines, msg+" "+strings.TrimSpace(fmt.Sprintln(args...)))
	}, time.Second)
	defer l.Stop()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.Note("refused", "n", i)
		now = now.Add(time.Millisecond) // 1000 notes in one second
	}
	if len(lines) != 1 || lines[0] != "refused n 0" {
		t.Fatalf("during the flood: %q", lines)
	}
	l.Flush() // the timer fired
	if len(lines) != 2 || lines[1] != "refused n 999 suppressed=998" {
		t.Errorf("flushed: %q", lines)
	}
	l.Flush() // nothing held
	now = now.Add(2 * time.Second)
	l.Note("refused", "n", 1000)
	if len(lines) != 3 || lines[2] != "refused n 1000" {
		t.Errorf("after a quiet second: %q", lines)
	}
}
