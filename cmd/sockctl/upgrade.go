package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// upgradeWait bounds how long upgrade waits for the new generation, and
// goneWait how long sockd may not answer at all before upgrade says it
// is gone (re-executing takes milliseconds).
const (
	upgradeWait = 2 * time.Minute
	goneWait    = 10 * time.Second
)

// upgrade re-executes sockd with a new binary (default: the one it was
// started from) and waits until the new generation answers. sockd checks
// the binary and the units first; if it refuses, it goes on unchanged
// and upgrade prints why.
func (c *cli) upgrade() int {
	binary := c.o.binary
	if binary != "" {
		abs, err := filepath.Abs(binary)
		if err != nil {
			return c.fail(err)
		}
		binary = abs
	}
	before, err := c.client.Daemon(c.ctx)
	if err != nil {
		return c.fail(err)
	}
	start := time.Now()
	if _, err := c.client.Upgrade(c.ctx, control.UpgradeRequest{Binary: binary}); err != nil {
		var e *control.Error
		if errors.As(err, &e) || notRunning(err) {
			return c.fail(fmt.Errorf("upgrade refused: %w", err))
		}
		// The connection may end as sockd re-executes: ask the new
		// generation below.
	}
	deadline := time.Now().Add(upgradeWait)
	var goneSince time.Time
	for {
		after, err := c.client.Daemon(c.ctx)
		switch {
		case err == nil || !notRunning(err):
			goneSince = time.Time{}
		case goneSince.IsZero():
			goneSince = time.Now()
		case time.Since(goneSince) > goneWait:
			return c.fail(fmt.Errorf("upgrade: sockd stopped answering during the upgrade (%v); see its log", err))
		}
		if err == nil && after.Generation > before.Generation && after.Ready {
			if after.RolledBack != "" {
				return c.fail(fmt.Errorf("upgrade rolled back: the new binary could not start (%s); sockd (pid %d) runs its previous binary %s again, generation %d, every unit kept",
					after.RolledBack, after.PID, after.Binary, after.Generation))
			}
			if c.o.json {
				c.printJSON(after)
			} else {
				fmt.Fprintf(c.stdout, "sockd upgraded: pid %d, generation %d → %d, version %s → %s, binary %s (%s)\n",
					after.PID, before.Generation, after.Generation, before.Version, after.Version, after.Binary,
					time.Since(start).Round(time.Millisecond))
			}
			return exitOK
		}
		if time.Now().After(deadline) {
			if err != nil {
				return c.fail(fmt.Errorf("upgrade: no answer from the new sockd after %s: %w", upgradeWait, err))
			}
			return c.fail(fmt.Errorf("upgrade: sockd (pid %d) still runs generation %d after %s; see its log", after.PID, after.Generation, upgradeWait))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
