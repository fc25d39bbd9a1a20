package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/sockd/sockd/internal/control"
)

// listRow is one line of `sockctl list`, and one element of its --json.
type listRow struct {
	Listen    string `json:"listen"`
	Type      string `json:"type"`
	Unit      string `json:"unit"`
	Activates string `json:"activates"`
	State     string `json:"state"`
	Active    string `json:"active_state"`
	Accepted  int    `json:"accepted"`
	Refused   int    `json:"refused"`
}

// list prints one line per listener, like systemctl list-sockets: the
// active sockets, and with --all also the stopped ones and the units that
// failed to load (STATE bad-setting; `sockctl status` shows why).
func (c *cli) list() int {
	us, err := c.client.Units(c.ctx)
	if err != nil {
		return c.fail(err)
	}
	rows := []listRow{}
	for _, u := range us {
		if u.ActiveState == "inactive" && !c.o.all {
			continue
		}
		ls := u.Listeners
		if len(ls) == 0 {
			ls = append(ls, control.Listener{Listen: "-", Type: "-"})
		}
		for _, l := range ls {
			rows = append(rows, listRow{Listen: l.Listen, Type: l.Type, Unit: u.Name, Activates: u.Service,
				State: u.SubState, Active: u.ActiveState, Accepted: u.Activations, Refused: u.Refused})
		}
	}
	if c.o.json {
		c.printJSON(rows)
		return exitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 1, ' ', 0)
	if !c.o.noLegend {
		fmt.Fprintln(tw, c.style.color(bold, "LISTEN")+"\t"+c.style.color(bold, "TYPE")+"\t"+c.style.color(bold, "UNIT")+"\t"+
			c.style.color(bold, "ACTIVATES")+"\t"+c.style.color(bold, "STATE")+"\t"+c.style.color(bold, "ACCEPTED")+"\t"+c.style.color(bold, "REFUSED"))
	}
	for _, r := range rows {
		state := r.State
		if r.Active == "failed" || r.State == "bad-setting" {
			state = c.style.color(red, state)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.Listen, r.Type, r.Unit, r.Activates, state, r.Accepted, r.Refused)
	}
	tw.Flush()
	if !c.o.noLegend {
		fmt.Fprintf(c.stdout, "\n%d sockets listed.\n", len(rows)) // one per listener, as systemctl counts
		if !c.o.all {
			fmt.Fprintln(c.stdout, "Pass --all to see loaded but inactive sockets, too.")
		}
	}
	return exitOK
}

// completeUnits prints every unit name, for shell completion; nothing
// (and success) when sockd is not running.
func (c *cli) completeUnits() int {
	us, err := c.client.Units(c.ctx)
	if err != nil {
		return exitOK
	}
	var b strings.Builder
	for _, u := range us {
		b.WriteString(u.Name + "\n")
		if u.Service != "" && !strings.Contains(u.Service, "@.") {
			b.WriteString(u.Service + "\n")
		}
	}
	fmt.Fprint(c.stdout, b.String())
	return exitOK
}
