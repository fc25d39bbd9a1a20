package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/sockd/sockd/internal/buildinfo"
	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/enable"
)

// cli is one invocation of sockctl.
type cli struct {
	o      options
	stdout io.Writer
	stderr io.Writer
	style  style
	client *control.Client
	ctx    context.Context
}

type verb struct {
	run     func(*cli) int
	minArgs int
	maxArgs int // -1: any
	daemon  bool
}

var verbs map[string]verb

func init() {
	verbs = map[string]verb{
		"list":              {(*cli).list, 0, 0, true},
		"list-sockets":      {(*cli).list, 0, 0, true},
		"status":            {(*cli).status, 1, -1, true},
		"start":             {func(c *cli) int { return c.act(control.Start) }, 1, -1, true},
		"stop":              {func(c *cli) int { return c.act(control.Stop) }, 1, -1, true},
		"restart":           {func(c *cli) int { return c.act(control.Restart) }, 1, -1, true},
		"reload":            {(*cli).reload, 0, -1, true},
		"daemon-reload":     {(*cli).reload, 0, 0, true},
		"is-active":         {(*cli).isActive, 1, -1, true},
		"upgrade":           {(*cli).upgrade, 0, 0, true},
		"cat":               {(*cli).cat, 1, -1, true},
		"logs":              {(*cli).logs, 1, 1, true},
		"show":              {(*cli).show, 1, -1, true},
		"list-dependencies": {(*cli).listDependencies, 1, -1, true},
		"edit":              {(*cli).edit, 1, 1, true},
		"is-failed":         {(*cli).isFailed, 1, -1, true},
		"completion":        {(*cli).completion, 1, 1, false},
		"enable":            {func(c *cli) int { return c.changeLinks("enable", enable.Paths.Enable) }, 1, -1, false},
		"disable":           {func(c *cli) int { return c.changeLinks("disable", enable.Paths.Disable) }, 1, -1, false},
		"mask":              {func(c *cli) int { return c.changeLinks("mask", enable.Paths.Mask) }, 1, -1, false},
		"unmask":            {func(c *cli) int { return c.changeLinks("unmask", enable.Paths.Unmask) }, 1, -1, false},
		"is-enabled":        {(*cli).isEnabled, 1, -1, false},
		"__complete-units":  {(*cli).completeUnits, 0, 0, true},
		"help":              {(*cli).help, 0, 1, false},
		"kill":              {(*cli).kill, 1, -1, true},
		"reset-failed":      {(*cli).resetFailed, 0, -1, true},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err != nil {
		return usageFail(stderr, "sockctl: %v", err)
	}
	if o.help {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	if o.version {
		fmt.Fprintf(stdout, "sockctl %s (%s)\n", buildinfo.Version(), buildinfo.GoVersion())
		return exitOK
	}
	if o.verb == "" {
		return usageFail(stderr, "sockctl: no verb given")
	}
	v, ok := verbs[o.verb]
	if !ok {
		return usageFail(stderr, "sockctl: unknown verb %q", o.verb)
	}
	if len(o.args) < v.minArgs || (v.maxArgs >= 0 && len(o.args) > v.maxArgs) {
		return usageFail(stderr, "sockctl %s: wrong number of arguments", o.verb)
	}
	c := &cli{o: o, stdout: stdout, stderr: stderr, style: styleFor(stdout)}
	if v.daemon {
		dir, err := control.ResolveRuntimeDir(o.runtimeDir)
		if err != nil {
			fmt.Fprintln(stderr, "sockctl:", err)
			return exitFailure
		}
		c.client = control.NewClient(filepath.Join(dir, control.SocketName))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c.ctx = ctx
	return v.run(c)
}

// usageFail prints one line of error and where to read the usage, as
// GNU tools do, and returns the usage exit code.
func usageFail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, format+"\n", args...)
	fmt.Fprintln(stderr, "See 'sockctl --help'.")
	return exitUsage
}

// fail prints err and returns its exit code: 4 for a missing unit, 2
// for a malformed name, 1 otherwise.
func (c *cli) fail(err error) int {
	var e *control.Error
	switch {
	case control.IsNoSuchUnit(err):
		fmt.Fprintf(c.stderr, "sockctl: %v\n", err)
		return exitNoUnit
	case errors.As(err, &e) && e.Status == 400:
		fmt.Fprintf(c.stderr, "sockctl: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "sockctl: %v\n", err)
	if notRunning(err) {
		fmt.Fprintln(c.stderr, "If sockd runs with another runtime directory, name it: sockctl --runtime-dir DIR …, or set SOCKD_RUNTIME_DIR=DIR.")
	}
	return exitFailure
}

// notRunning reports whether err means sockd is not running; it is
// printed once, and the caller stops.
func notRunning(err error) bool {
	var nr *control.NotRunningError
	return errors.As(err, &nr)
}

func (c *cli) printJSON(v any) {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// printJSONLine prints v as one line of JSON.
func (c *cli) printJSONLine(v any) {
	json.NewEncoder(c.stdout).Encode(v)
}
