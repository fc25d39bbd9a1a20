package main

import (
	"fmt"
	"strings"
)

// listDependencies prints the unit and the unit it depends on, as
// systemctl list-dependencies does: a socket triggers its service, and a
// socket-activated service requires its socket (an Accept=yes socket's
// template has no unit of its own to show). Each line has the state dot.
func (c *cli) listDependencies() int {
	for i, name := range c.o.args {
		u, err := c.client.Unit(c.ctx, name)
		if err != nil {
			return c.fail(err)
		}
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		fmt.Fprintln(c.stdout, u.Name)
		dep := u.Service
		if u.Kind == "service" {
			dep = u.Socket
		}
		if dep == "" || dep == u.Name || strings.Contains(dep, "@.") {
			continue
		}
		state := "inactive"
		if d, err := c.client.Unit(c.ctx, dep); err == nil {
			state = d.ActiveState
		}
		fmt.Fprintf(c.stdout, "%s└─%s\n", c.style.dot(state), dep)
	}
	return exitOK
}
