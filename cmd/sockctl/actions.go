package main

import (
	"fmt"

	"github.com/sockd/sockd/internal/control"
)

// act starts, stops or restarts (with --graceful: gracefully) each unit
// in turn; it stops at the first failure, as systemctl does.
func (c *cli) act(a control.Action) int {
	var views []control.Unit
	for _, name := range c.o.args {
		var u control.Unit
		var err error
		if c.o.graceful {
			u, err = c.client.GracefulRestart(c.ctx, name)
		} else {
			u, err = c.client.Do(c.ctx, name, a)
		}
		if err != nil {
			if notRunning(err) || c.o.graceful { // a graceful restart's error says what failed
				return c.fail(err)
			}
			return c.fail(fmt.Errorf("%s failed: %w", a, err))
		}
		views = append(views, u)
		if a != control.Stop && u.ActiveState == "failed" {
			fmt.Fprintf(c.stderr, "Job for %s failed%s.\nSee \"sockctl status %s\" for details.\n", u.Name, because(u.Result), u.Name)
			return exitFailure
		}
	}
	if c.o.json {
		c.printJSON(views)
	}
	return exitOK
}

// because says why a start failed, in systemctl's words for a Result.
func because(result string) string {
	switch result {
	case "", "success":
		return ""
	case "timeout":
		return " because a timeout was exceeded"
	case "exit-code":
		return " because the control process exited with error code"
	case "signal", "core-dump":
		return " because a fatal signal was delivered to the control process"
	case "resources":
		return " because of unavailable resources or another system error"
	case "start-limit-hit", "trigger-limit-hit":
		return " because " + result + " (the unit was started too often)"
	}
	return " (Result: " + result + ")"
}

// reload re-reads the unit directories, or, given units, runs their
// ExecReload= as systemctl reload UNIT does.
func (c *cli) reload() int {
	if len(c.o.args) > 0 {
		return c.act(control.ReloadUnit)
	}
	if err := c.client.Reload(c.ctx); err != nil {
		return c.fail(err)
	}
	return exitOK
}

// cat prints the files each unit was loaded from, each preceded by
// "# /path", as systemctl cat does.
func (c *cli) cat() int {
	type unitFiles struct {
		Unit  string         `json:"unit"`
		Files []control.File `json:"files"`
	}
	var out []unitFiles
	for i, name := range c.o.args {
		fs, err := c.client.Files(c.ctx, name)
		if err != nil {
			return c.fail(err)
		}
		if c.o.json {
			cn, _ := control.CanonicalName(name)
			out = append(out, unitFiles{Unit: cn, Files: fs})
			continue
		}
		for j, f := range fs {
			if i > 0 || j > 0 {
				fmt.Fprintln(c.stdout)
			}
			fmt.Fprintln(c.stdout, c.style.color("\x1b[0;1;34m", "# "+f.Path))
			fmt.Fprint(c.stdout, f.Content)
			if n := len(f.Content); n > 0 && f.Content[n-1] != '\n' {
				fmt.Fprintln(c.stdout)
			}
		}
	}
	if c.o.json {
		c.printJSON(out)
	}
	return exitOK
}
