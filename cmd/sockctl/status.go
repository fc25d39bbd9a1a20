package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// status prints each unit as systemctl status does. Exit: 4 if a unit
// does not exist, else 3 if one is not active, else 0.
func (c *cli) status() int {
	code := exitOK
	var views []control.Unit
	for i, name := range c.o.args {
		u, err := c.client.Unit(c.ctx, name)
		if err != nil {
			if notRunning(err) {
				return c.fail(err)
			}
			if r := c.fail(err); r > code || r == exitUsage {
				code = r
			}
			continue
		}
		if !u.IsActive() && code == exitOK {
			code = exitNotActive
		}
		if c.o.json {
			views = append(views, u)
			continue
		}
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		c.printStatus(u, time.Now())
	}
	if c.o.json {
		if views == nil {
			views = []control.Unit{}
		}
		c.printJSON(views)
	}
	return code
}

func (c *cli) printStatus(u control.Unit, now time.Time) {
	s := c.style
	w := c.stdout
	title := u.Name
	if u.Description != "" {
		title += " - " + u.Description
	}
	fmt.Fprintf(w, "%s%s\n", s.dot(u.ActiveState), title)
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%11s: %s\n", name, fmt.Sprintf(format, args...))
	}
	if len(u.Errors) > 0 {
		field("Loaded", "%s", s.stateColor("failed", "bad-setting"))
		for i, e := range u.Errors {
			if i == 0 {
				field("Error", "%s", e)
			} else {
				fmt.Fprintf(w, "%11s  %s\n", "", e)
			}
		}
		return
	}
	field("Loaded", "loaded (%s)", strings.Join(u.Files, "; "))
	if u.Kind == "service" {
		field("TriggeredBy", "%s", u.Socket)
	}
	active := fmt.Sprintf("%s (%s)", u.ActiveState, u.SubState)
	if u.ActiveState == "failed" && u.Result != "" {
		active = fmt.Sprintf("%s (Result: %s)", u.ActiveState, u.Result)
	}
	active = s.stateColor(u.ActiveState, active)
	if t := since(u.Since, now); t != "" {
		active += " since " + t
	}
	field("Active", "%s", active)
	if u.Kind == "socket" {
		field("Triggers", "%s", u.Service)
		for i, l := range u.Listeners {
			name := "Listen"
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(w, "%11s%s %s (%s)\n", name, map[bool]string{true: ":", false: " "}[i == 0], l.Listen, l.Type)
		}
		if strings.Contains(u.Service, "@.") { // Accept=yes: as systemctl shows it
			field("Accepted", "%d; Connected: %d; Refused: %d", u.Activations, u.Connections, u.Refused)
		} else {
			field("Accepted", "%d; Refused: %d", u.Activations, u.Refused)
		}
		for i, inst := range u.Instances {
			name := "Instances"
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(w, "%11s%s %s (pid %d, from %s)\n", name, map[bool]string{true: ":", false: " "}[i == 0], inst.Name, inst.PID, inst.Remote)
		}
	}
	if u.MainPID > 0 {
		field("Main PID", "%d", u.MainPID)
	}
	if len(u.DrainingPIDs) > 0 { // old instances a graceful restart is stopping
		field("Draining", "%s", joinPIDs(u.DrainingPIDs))
	}
	if u.Condition != "" {
		field("Condition", "%s", u.Condition)
	}
	if u.StatusText != "" {
		field("Status", "%q", u.StatusText)
	}
	if u.FDStoreMax > 0 || len(u.FDStore) > 0 {
		field("FD Store", "%d (limit %d)", len(u.FDStore), u.FDStoreMax)
		for _, e := range u.FDStore { // as systemd-analyze fdstore: FDNAME TYPE INODE PATH
			fmt.Fprintf(w, "%11s  %s %s %d %s\n", "", e.Name, e.Type, e.Inode, e.Target)
		}
	}
	field("Restarts", "%d", u.Restarts)
	if u.LastExit != nil {
		field("Last exit", "%s", u.LastExit.Text)
	}
	if len(u.Log) > 0 {
		fmt.Fprintln(w)
		for _, r := range u.Log {
			line := r.String()
			if r.Level == "ERROR" {
				line = s.color(red, line)
			}
			fmt.Fprintln(w, line)
		}
	}
}

// isActive prints each unit's active state. Exit: 0 if all are active,
// 4 if one does not exist, else 3.
func (c *cli) isActive() int {
	type row struct {
		Unit   string `json:"unit"`
		State  string `json:"state"`
		Active bool   `json:"active"`
	}
	var rows []row
	code := exitOK
	for _, name := range c.o.args {
		u, err := c.client.Unit(c.ctx, name)
		var r row
		switch {
		case err == nil:
			r = row{Unit: u.Name, State: u.ActiveState, Active: u.IsActive()}
			if !r.Active && code == exitOK {
				code = exitNotActive
			}
		case control.IsNoSuchUnit(err):
			cn, _ := control.CanonicalName(name)
			r = row{Unit: cn, State: "unknown"}
			code = exitNoUnit
		default:
			return c.fail(err)
		}
		rows = append(rows, r)
		if !c.o.quiet && !c.o.json {
			fmt.Fprintln(c.stdout, r.State)
		}
	}
	if c.o.json && !c.o.quiet {
		c.printJSON(rows)
	}
	return code
}

// joinPIDs lists pids as "12, 34".
func joinPIDs(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}
