package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// logs prints a unit's log records as journalctl -u does: -n N the last
// N, --since a time or a duration ago, -f then each new record until
// interrupted. With --json, one JSON record per line.
func (c *cli) logs() int {
	q, err := c.logQuery(time.Now())
	if err != nil {
		fmt.Fprintf(c.stderr, "sockctl logs: %v\nSee 'sockctl --help'.\n", err)
		return exitUsage
	}
	ctx := c.ctx
	if q.Follow { // Ctrl-C ends following, with success, as journalctl -f
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	err = c.client.Log(ctx, c.o.args[0], q, func(r control.LogRecord) {
		if c.o.json {
			c.printJSONLine(r)
			return
		}
		line := r.String()
		if r.Level == "ERROR" || r.Level == "WARN" {
			line = c.style.color(red, line)
		}
		fmt.Fprintln(c.stdout, line)
	})
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

// logQuery reads -f, -n and --since; now is what --since 10m counts back
// from.
func (c *cli) logQuery(now time.Time) (control.LogQuery, error) {
	q := control.LogQuery{Follow: c.o.follow}
	if c.o.lines != "" {
		n, err := strconv.Atoi(c.o.lines)
		if err != nil || n < 0 {
			return q, fmt.Errorf("-n %q: want a number of lines", c.o.lines)
		}
		q.Lines = n
	} else if c.o.follow {
		q.Lines = 10 // as journalctl -f
	}
	if s := c.o.since; s != "" {
		t, err := parseSince(s, now)
		if err != nil {
			return q, err
		}
		q.Since = t
	}
	return q, nil
}

// parseSince reads a --since value: a duration ago ("10m", "-1h"), or a
// local time as journalctl takes it ("2006-01-02 15:04:05", "15:04").
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "-")); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} { // today
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			y, m, d := now.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, time.Local), nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration ago (10m, 2h) or a time (2006-01-02 15:04:05, 15:04)", s)
}
