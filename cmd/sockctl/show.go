package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// property is one NAME=value line of `sockctl show`, named as systemctl
// show names it.
type property struct{ name, value string }

// properties returns u's properties in systemctl show's spelling.
func properties(u control.Unit) []property {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("Mon 2006-01-02 15:04:05 MST")
	}
	load := "loaded"
	switch {
	case u.State == "masked":
		load = "masked"
	case len(u.Errors) > 0:
		load = "bad-setting"
	}
	ps := []property{
		{"Id", u.Name},
		{"Description", u.Description},
		{"LoadState", load},
		{"ActiveState", u.ActiveState},
		{"SubState", u.SubState},
		{"Result", orDefault(u.Result, "success")},
		{"StateChangeTimestamp", ts(u.Since)},
		{"FragmentPath", first(u.Files)},
		{"DropInPaths", strings.Join(rest(u.Files), " ")},
	}
	if u.Kind == "socket" {
		var listen []string
		for _, l := range u.Listeners {
			listen = append(listen, l.Type+" "+l.Listen)
		}
		ps = append(ps, property{"Triggers", u.Service}, property{"Listen", strings.Join(listen, " ")},
			property{"NAccepted", strconv.Itoa(u.Activations)}, property{"NConnections", strconv.Itoa(u.Connections)},
			property{"NRefused", strconv.Itoa(u.Refused)})
	} else {
		ps = append(ps, property{"TriggeredBy", u.Socket}, property{"MainPID", strconv.Itoa(u.MainPID)},
			property{"NRestarts", strconv.Itoa(u.Restarts)}, property{"StatusText", u.StatusText})
		code, status := "0", "0"
		if e := u.LastExit; e != nil {
			code, status = e.Code, strconv.Itoa(e.Status)
		}
		ps = append(ps, property{"ExecMainCode", code}, property{"ExecMainStatus", status})
	}
	return ps
}

// show prints each unit's properties as NAME=value, as systemctl show
// does: -p/--property NAME (repeatable, or comma-separated) picks some,
// --value prints the values alone.
func (c *cli) show() int {
	want := map[string]bool{}
	for _, p := range c.o.properties {
		for _, n := range strings.Split(p, ",") {
			want[n] = true
		}
	}
	for i, name := range c.o.args {
		u, err := c.client.Unit(c.ctx, name)
		if err != nil {
			return c.fail(err)
		}
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		for _, p := range properties(u) {
			if len(want) > 0 && !want[p.name] {
				continue
			}
			if c.o.value {
				fmt.Fprintln(c.stdout, p.value)
			} else {
				fmt.Fprintf(c.stdout, "%s=%s\n", p.name, p.value)
			}
		}
	}
	return exitOK
}

// isFailed prints each unit's active state; it exits 0 if any is
// failed, else 1, as systemctl is-failed.
func (c *cli) isFailed() int {
	code := exitFailure
	for _, name := range c.o.args {
		u, err := c.client.Unit(c.ctx, name)
		state := u.ActiveState
		switch {
		case err == nil:
			if state == "failed" {
				code = exitOK
			}
		case control.IsNoSuchUnit(err):
			state = "inactive" // systemctl: a unit not loaded is not failed
		default:
			return c.fail(err)
		}
		if !c.o.quiet {
			fmt.Fprintln(c.stdout, state)
		}
	}
	return code
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func rest(s []string) []string {
	if len(s) < 2 {
		return nil
	}
	return s[1:]
}
