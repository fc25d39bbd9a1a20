// Command sockd is a socket-activation supervisor: it binds the listeners
// of every unit in its unit directories, starts each unit's service on the
// first connection and hands it the listening sockets with the
// LISTEN_FDS protocol of sd_listen_fds(3).
//
// Usage:
//
//	sockd [--units DIR]... [--runtime-dir DIR] [--log-format text|json] [--takeover]
//	sockd --check [--units DIR]...
//	sockd --systemd-units [--root DIR] ...
//	sockd --version
//
// `sockctl upgrade` re-executes sockd in place with a new binary; sockd
// --takeover takes the place of a sockd already serving the runtime
// directory (see internal/upgrade, and internal/daemon's upgrade.go and
// takeover.go).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sockd/sockd/internal/buildinfo"
	"github.com/sockd/sockd/internal/daemon"
	"github.com/sockd/sockd/internal/enable"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/internal/upgrade"
	"github.com/sockd/sockd/units"
)

// version may be stamped here with -ldflags "-X main.version=…", as
// sockd's upgrade tests do; packaging/build stamps internal/buildinfo.
// sockdVersion says which applies.
var version string

// sockdVersion returns version if it was stamped, else
// buildinfo.Version(): the release stamp, the module version of a `go
// install`, or "dev".
func sockdVersion() string {
	if version != "" {
		return version
	}
	return buildinfo.Version()
}

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
	version    bool
	// systemdUnits: the unit directories are systemd's search path under
	// root, of which only the enabled socket units are loaded.
	systemdUnits bool
	root         string
	// takeover takes over from the sockd serving the runtime directory;
	// upgradeCheck is the check a running sockd makes of a new binary.
	takeover, upgradeCheck bool
	// args are the arguments, for the image an upgrade execs.
	args []string
	// controlGroup may change units through the control socket.
	controlGroup string
	// explicitUnits: the unit directories were given with --units.
	explicitUnits bool
	// metrics serves /metrics on the control socket; metricsListen on
	// a TCP address too.
	metrics       bool
	metricsListen string
}

func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	var dirs dirList
	fs := flag.NewFlagSet("sockd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the error once, or the usage for --help (usage.go)
	fs.Usage = func() {}
	fs.Var(&dirs, "units", "a unit directory `DIR` (repeatable; later ones override earlier ones by unit name)")
	fs.StringVar(&o.runtimeDir, "runtime-dir", "", "the runtime directory `DIR` (default $SOCKD_RUNTIME_DIR, /run/sockd as root, else $XDG_RUNTIME_DIR/sockd)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&o.controlGroup, "control-group", "", "the `GROUP` (name or gid) whose members may change units through the control socket, which is then mode 0660 (not upgrade sockd: root only, or sockd's own user when not root); default: only root and sockd's own user (mode 0600)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.metrics, "metrics", false, "serve Prometheus metrics at /metrics on the control socket")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://`ADDR`/metrics too (host:port, e.g. 127.0.0.1:9370)")
	fs.BoolVar(&o.systemdUnits, "systemd-units", false, "run the socket units enabled in systemd's unit search path (/etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system, /lib/systemd/system, /usr/lib/systemd/system; or the --units given), as a boot would start them")
	fs.StringVar(&o.root, "root", "/", "with --systemd-units: the directory `DIR` systemd's unit search path is under, as systemctl --root")
	fs.BoolVar(&o.check, "check", false, "load and validate the units, print them and every error, and exit (non-zero if any unit is invalid)")
	fs.BoolVar(&o.takeover, "takeover", false, "take over the listeners, fd stores and control socket of the sockd serving the runtime directory, which then stops its services and exits")
	fs.BoolVar(&o.upgradeCheck, strings.TrimLeft(upgrade.CheckFlag, "-"), false, "internal: check that this binary can take over from the running sockd (sockctl upgrade runs it)")
	if err := fs.Parse(args); err == flag.ErrHelp {
		printUsage(stdout, fs)
		return o, err
	} else if err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.root != "/" && !o.systemdUnits {
		return o, fmt.Errorf("--root applies to --systemd-units only")
	}
	o.unitDirs, o.explicitUnits = dirs, len(dirs) > 0
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "takeover" && f.Name != "units" { // --units are passed made absolute
			o.args = append(o.args, "--"+f.Name+"="+f.Value.String())
		}
	})
	switch {
	case len(o.unitDirs) > 0:
	case o.systemdUnits:
		o.unitDirs = enable.NewPaths(o.root).LowestFirst()
	default:
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
	o, err := parseFlags(args, stdout)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sockd: %s\nSee 'sockd --help'.\n", flagError(err))
		return 2
	}
	if o.version {
		fmt.Fprintf(stdout, "sockd %s (%s)\n", sockdVersion(), buildinfo.GoVersion())
		return 0
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
	if missing := unitDirsMissing(o); len(missing) > 0 {
		fmt.Fprintf(stderr, "sockd: no unit directory %s\n", strings.Join(missing, ", "))
		return 1
	}
	res := daemon.LoadUnits(o.unitDirs, o.systemdUnits)
	for _, u := range res.Units {
		fmt.Fprintln(stdout, u.Summary())
	}
	for _, name := range res.Masked {
		fmt.Fprintf(stdout, "%s: masked\n", name)
	}
	for _, name := range res.NotFound {
		fmt.Fprintf(stderr, "sockd: %s is enabled but not found\n", name)
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
