package main

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 8, 10, 30, 0, 0, time.Local)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"10m", now.Add(-10 * time.Minute)},
		{"-2h", now.Add(-2 * time.Hour)},
		{"2026-12-07 09:00:01", time.Date(2026, 12, 7, 9, 0, 1, 0, time.Local)},
		{"2026-12-07", time.Date(2026, 12, 7, 0, 0, 0, 0, time.Local)},
		{"09:15", time.Date(2026, 12, 8, 9, 15, 0, 0, time.Local)},
	} {
		got, err := parseSince(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if _, err := parseSince("yesterday-ish", now); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Errorf("parseSince of nonsense: %v; want an error naming --since", err)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"SIGHUP": unix.SIGHUP, "hup": unix.SIGHUP, "KILL": unix.SIGKILL, "15": unix.SIGTERM, "SIGUSR2": unix.SIGUSR2} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "99", "SIGNOPE"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) accepted", in)
		}
	}
}

// Every verb has an entry in the usage that help VERB prints.
func TestEveryVerbHasHelp(t *testing.T) {
	aliases := map[string]bool{"list-sockets": true, "daemon-reload": true, "__complete-units": true}
	for v := range verbs {
		if !aliases[v] && verbHelp(v) == "" {
			t.Errorf("verb %s has no entry in the usage", v)
		}
	}
}
