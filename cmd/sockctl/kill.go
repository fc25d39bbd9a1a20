package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kill sends a signal (--signal, default SIGTERM) to each unit's service
// processes, as systemctl kill.
func (c *cli) kill() int {
	sig := unix.SIGTERM
	if c.o.signal != "" {
		s, err := parseSignal(c.o.signal)
		if err != nil {
			fmt.Fprintf(c.stderr, "sockctl kill: %v\nSee 'sockctl help kill'.\n", err)
			return exitUsage
		}
		sig = s
	}
	for _, name := range c.o.args {
		if _, err := c.client.Kill(c.ctx, name, int(sig)); err != nil {
			return c.fail(err)
		}
	}
	return exitOK
}

// parseSignal reads a signal as kill(1) does: SIGTERM, TERM or 15.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (want a name like SIGHUP or HUP, or a number)", s)
}

// resetFailed clears the failed state of the units named, or of all.
func (c *cli) resetFailed() int {
	if len(c.o.args) == 0 {
		if err := c.client.ResetFailed(c.ctx, ""); err != nil {
			return c.fail(err)
		}
		return exitOK
	}
	for _, name := range c.o.args {
		if err := c.client.ResetFailed(c.ctx, name); err != nil {
			return c.fail(err)
		}
	}
	return exitOK
}
