// Command sockd is a socket-activation supervisor: it binds the listeners
// of every unit in its unit directories, starts each unit's service on the
// first connection and hands it the listening sockets with the
// LISTEN_FDS protocol of sd_listen_fds(3).
//
// Usage:
//
//	sockd [--units DIR]... [--runtime-dir DIR] [--log-format text|json] [--takeover]
//	sockd --check [--units DIR]...
//
// `sockctl upgrade` re-executes sockd in place with a new binary; sockd
// --takeover takes the place of a sockd already serving the runtime
// directory (see internal/daemon's upgrade.go and takeover.go).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sockd/sockd/internal/daemon"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// version is sockd's version, set at build time with
// -ldflags "-X main.version=…".
var version = "dev"

// defaultUnitDirs are searched when no --units is given, lowest priority
// first.
var defaultUnitDirs = []string{"/usr/lib/sockd/units", "/etc/sockd/units"}

type dirList []string

func (d *dirList) String() string     { return strings.Join(*d, ",") }
func (d *dirList) Set(v string) error { *d = append(*d, v); return nil }

type options struct {
	unitDirs   []string
	runtimeDir string
	logFormat  string
	logLevel   string
	check      bool
	// takeover takes over from the sockd serving the runtime directory;
	// upgradeCheck is the check a running sockd makes of a new binary.
	takeover, upgradeCheck bool
	// args are the arguments, for the image an upgrade execs.
	args []string
	// controlGroup may change units through the control socket.
	controlGroup string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var dirs dirList
	fs := flag.NewFlagSet("sockd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&dirs, "units", "unit directory (repeatable; later ones override earlier ones by unit name)")
	fs.StringVar(&o.runtimeDir, "runtime-dir", "", "runtime directory (default $SOCKD_RUNTIME_DIR, /run/sockd as root, else $XDG_RUNTIME_DIR/sockd)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.controlGroup, "control-group", "", "group (name or gid) whose members may change units through the control socket, which is then mode 0660; default: only root and sockd's own user (mode 0600)")
	fs.BoolVar(&o.check, "check", false, "load and validate the units, print them and every error, and exit (non-zero if any unit is invalid)")
	fs.BoolVar(&o.takeover, "takeover", false, "take over the listeners, fd stores and control socket of the sockd serving the runtime directory, which then stops its services and exits")
	fs.BoolVar(&o.upgradeCheck, strings.TrimLeft(daemon.UpgradeCheckFlag, "-"), false, "internal: check that this binary can take over from the running sockd (sockctl upgrade runs it)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.unitDirs = dirs
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "takeover" && f.Name != "units" { // --units are passed made absolute
			o.args = append(o.args, "--"+f.Name+"="+f.Value.String())
		}
	})
	if len(o.unitDirs) == 0 {
		o.unitDirs = defaultUnitDirs
	}
	for i, d := range o.unitDirs { // errors and `sockctl cat` name files by absolute paths
		abs, err := filepath.Abs(d)
		if err != nil {
			return o, fmt.Errorf("--units %s: %w", d, err)
		}
		o.unitDirs[i] = abs
	}
	for _, d := range dirs {
		o.args = append(o.args, "--units="+d)
	}
	return o, nil
}

func main() {
	spawn.RunShimIfRequested() // sockd re-executes itself to start services
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "sockd:", err)
		}
		return 2
	}
	if o.check {
		return check(o, stdout, stderr)
	}
	if o.upgradeCheck {
		return upgradeCheck(o, stdout, stderr)
	}
	return serve(o, stderr)
}

// check implements --check.
func check(o options, stdout, stderr io.Writer) int {
	res := unitdir.Load(o.unitDirs, units.DefaultSpecifierEnv())
	for _, u := range res.Units {
		fmt.Fprintln(stdout, u.Summary())
	}
	for _, u := range res.Templates {
		fmt.Fprintln(stdout, u.Summary()+" (a template, verified as this instance)")
	}
	for _, err := range units.Errors(res.Err()) {
		fmt.Fprintln(stderr, err)
	}
	if res.Err() != nil {
		fmt.Fprintf(stderr, "sockd: %d valid unit(s), %d invalid\n", len(res.Units), len(res.Invalid))
		return 1
	}
	if len(res.Units) == 0 && len(res.Templates) == 0 {
		fmt.Fprintf(stderr, "sockd: no units found in %s\n", strings.Join(o.unitDirs, ", "))
	}
	return 0
}
