package main

import (
	"fmt"
	"io"
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

// printStatus prints u as systemctl status prints a unit.
func (c *cli) printStatus(u control.Unit, now time.Time) {
	p := statusPrinter{w: c.stdout, s: c.style}
	title := u.Name
	if u.Description != "" {
		title += " - " + u.Description
	}
	fmt.Fprintf(p.w, "%s%s\n", p.s.dot(u.ActiveState), title)
	if u.State == "masked" { // as systemctl shows a masked unit
		p.field("Loaded", "masked (Reason: Unit %s is masked.)", u.Name)
		p.field("Active", "%s (%s)", u.ActiveState, u.SubState)
		return
	}
	if len(u.Errors) > 0 {
		p.field("Loaded", "%s", p.s.stateColor("failed", "bad-setting"))
		p.list("Error", u.Errors)
		return
	}
	p.field("Loaded", "loaded (%s)", strings.Join(u.Files, "; "))
	if u.Kind == "service" {
		p.field("TriggeredBy", "%s", u.Socket)
	}
	p.active(u, now)
	if u.Kind == "socket" {
		p.socket(u)
	}
	p.process(u)
	p.log(u.Log)
}

// statusPrinter writes the lines of `sockctl status`, labels right-aligned
// in 11 columns as systemctl aligns them.
type statusPrinter struct {
	w io.Writer
	s style
}

// field writes "      Label: value".
func (p statusPrinter) field(name, format string, args ...any) {
	fmt.Fprintf(p.w, "%11s: %s\n", name, fmt.Sprintf(format, args...))
}

// list writes values under one label, the label and colon on the first
// line only.
func (p statusPrinter) list(name string, values []string) {
	for i, v := range values {
		if i == 0 {
			p.field(name, "%s", v)
		} else {
			fmt.Fprintf(p.w, "%11s  %s\n", "", v)
		}
	}
}

// active writes the Active: line: the state, the result of a failure and
// since when.
func (p statusPrinter) active(u control.Unit, now time.Time) {
	active := fmt.Sprintf("%s (%s)", u.ActiveState, u.SubState)
	if u.ActiveState == "failed" && u.Result != "" {
		active = fmt.Sprintf("%s (Result: %s)", u.ActiveState, u.Result)
	}
	active = p.s.stateColor(u.ActiveState, active)
	if t := since(u.Since, now); t != "" {
		active += " since " + t
	}
	p.field("Active", "%s", active)
}

// socket writes what a socket unit adds: the service it triggers, its
// listeners, its counters and its Accept=yes instances.
func (p statusPrinter) socket(u control.Unit) {
	p.field("Triggers", "%s", u.Service)
	listen := make([]string, len(u.Listeners))
	for i, l := range u.Listeners {
		listen[i] = fmt.Sprintf("%s (%s)", l.Listen, l.Type)
		if l.Closed {
			listen[i] += " closed: connections are refused until the unit is started again"
		}
	}
	p.list("Listen", listen)
	if strings.Contains(u.Service, "@.") { // Accept=yes: as systemctl shows it
		p.field("Accepted", "%d; Connected: %d; Refused: %d", u.Activations, u.Connections, u.Refused)
	} else {
		p.field("Accepted", "%d; Refused: %d", u.Activations, u.Refused)
	}
	instances := make([]string, len(u.Instances))
	for i, inst := range u.Instances {
		instances[i] = fmt.Sprintf("%s (pid %d, from %s)", inst.Name, inst.PID, inst.Remote)
	}
	p.list("Instances", instances)
}

// process writes the service's processes, status text, fd store,
// restarts and last exit.
func (p statusPrinter) process(u control.Unit) {
	if u.MainPID > 0 {
		p.field("Main PID", "%d", u.MainPID)
	}
	if len(u.DrainingPIDs) > 0 { // old instances a graceful restart is stopping
		p.field("Draining", "%s", joinPIDs(u.DrainingPIDs))
	}
	if u.Condition != "" {
		p.field("Condition", "%s", u.Condition)
	}
	if u.StatusText != "" {
		p.field("Status", "%q", u.StatusText)
	}
	if u.FDStoreMax > 0 || len(u.FDStore) > 0 {
		p.field("FD Store", "%d (limit %d)", len(u.FDStore), u.FDStoreMax)
		for _, e := range u.FDStore { // as systemd-analyze fdstore: FDNAME TYPE INODE PATH
			fmt.Fprintf(p.w, "%11s  %s %s %d %s\n", "", e.Name, e.Type, e.Inode, e.Target)
		}
	}
	p.field("Restarts", "%d", u.Restarts)
	if u.LastExit != nil {
		p.field("Last exit", "%s", u.LastExit.Text)
	}
}

// log writes the unit's last log records after an empty line, errors in
// red.
func (p statusPrinter) log(recs []control.LogRecord) {
	if len(recs) == 0 {
		return
	}
	fmt.Fprintln(p.w)
	for _, r := range recs {
		line := r.String()
		if r.Level == "ERROR" {
			line = p.s.color(red, line)
		}
		fmt.Fprintln(p.w, line)
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
