package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sockd/sockd/internal/enable"
)

// The verbs of this file change or read the links of systemd's unit
// search path (internal/enable), as systemctl does, without the daemon;
// `sockctl reload` makes a `sockd --systemd-units` apply them.

// staticNote is what systemctl prints for units with nothing to enable.
const staticNote = `The unit files have no installation config (WantedBy=, RequiredBy=, Also=,
Alias= settings in the [Install] section, and DefaultInstance= for template
units). This means they are not meant to be enabled using sockctl.
`

// unitFileNames spells the arguments as unit file names: a bare name
// means the socket unit, as in every sockctl verb.
func unitFileNames(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if !strings.Contains(a, ".") {
			a += ".socket"
		}
		out[i] = a
	}
	return out
}

// changeLinks runs enable, disable, mask or unmask and prints each change
// to stderr, as systemctl does (nothing with --quiet).
func (c *cli) changeLinks(what string, op func(enable.Paths, ...string) (enable.Result, error)) int {
	res, err := op(enable.NewPaths(c.o.root), unitFileNames(c.o.args)...)
	if !c.o.quiet {
		for _, ch := range res.Changes {
			fmt.Fprintln(c.stderr, ch)
		}
		if len(res.Static) > 0 {
			fmt.Fprint(c.stderr, staticNote)
		}
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "sockctl: cannot %s: %v\n", what, err)
		return exitFailure
	}
	if len(res.Changes) > 0 && !c.o.quiet {
		fmt.Fprintln(c.stderr, "Run `sockctl reload` for a running sockd --systemd-units to apply this.")
	}
	return exitOK
}

// isEnabled prints each unit's enablement state; it exits 0 if any is
// enabled (or static, alias, indirect), else 1, as systemctl does.
func (c *cli) isEnabled() int {
	p := enable.NewPaths(c.o.root)
	code := exitFailure
	for _, name := range unitFileNames(c.o.args) {
		state, err := p.State(name)
		if err != nil {
			if errors.Is(err, enable.ErrNotFound) {
				err = enable.ErrNotFound
			}
			fmt.Fprintf(c.stderr, "sockctl: cannot get unit file state for %s: %v\n", name, err)
			continue
		}
		if !c.o.quiet {
			fmt.Fprintln(c.stdout, state)
		}
		if enable.Enabled(state) {
			code = exitOK
		}
	}
	return code
}
