package main

import (
	"fmt"
	"strings"
)

// Exit codes, as systemctl's.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitNotActive = 3
	exitNoUnit    = 4
)

// options are the command line's flags; they may appear anywhere.
type options struct {
	runtimeDir string
	root       string // enable, disable, mask, unmask, is-enabled: --root
	json       bool
	all        bool
	noLegend   bool
	quiet      bool
	graceful   bool // restart --graceful
	help       bool
	version    bool
	binary     string   // upgrade --binary
	follow     bool     // logs -f
	lines      string   // logs -n
	since      string   // logs --since
	signal     string   // kill --signal
	properties []string // show --property
	value      bool     // show --value
	verb       string
	args       []string
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func parseArgs(args []string) (options, error) {
	var o options
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		boolFlag := func(p *bool) error {
			if hasValue {
				return usagef("flag %s takes no value", name)
			}
			*p = true
			return nil
		}
		// stringFlag takes the value after "=" or the next argument.
		stringFlag := func(p *string) error {
			if !hasValue {
				if i+1 >= len(args) {
					return usagef("flag %s needs a value", name)
				}
				i++
				value = args[i]
			}
			*p = value
			return nil
		}
		var err error
		switch name {
		case "--runtime-dir":
			err = stringFlag(&o.runtimeDir)
		case "--root":
			err = stringFlag(&o.root)
		case "--binary":
			err = stringFlag(&o.binary)
		case "-f", "--follow":
			err = boolFlag(&o.follow)
		case "-n", "--lines":
			err = stringFlag(&o.lines)
		case "--since":
			err = stringFlag(&o.since)
		case "-s", "--signal":
			err = stringFlag(&o.signal)
		case "-p", "--property":
			var p string
			err = stringFlag(&p)
			o.properties = append(o.properties, p)
		case "--value":
			err = boolFlag(&o.value)
		case "--json":
			err = boolFlag(&o.json)
		case "-a", "--all":
			err = boolFlag(&o.all)
		case "--no-legend":
			err = boolFlag(&o.noLegend)
		case "-q", "--quiet":
			err = boolFlag(&o.quiet)
		case "--graceful":
			err = boolFlag(&o.graceful)
		case "-h", "--help":
			err = boolFlag(&o.help)
		case "--version":
			err = boolFlag(&o.version)
		case "--no-pager", "--full", "-l":
			// accepted for systemctl muscle memory; sockctl never pages or truncates
		default:
			return o, usagef("unknown flag %s", name)
		}
		if err != nil {
			return o, err
		}
	}
	if len(pos) > 0 {
		o.verb, o.args = pos[0], pos[1:]
	}
	if o.graceful && o.verb != "restart" {
		return o, usagef("flag --graceful applies to restart only")
	}
	return o, nil
}

const usageText = `Usage: sockctl [--runtime-dir DIR] [--json] VERB [ARGS]
       sockctl --version

Verbs:
  list [--all] [--no-legend]   list the socket units and their listeners
  status UNIT...               show a unit's state, files, listeners, PID, last exit and log
  start UNIT...                start a service now (on a failed socket: reset it)
  stop UNIT...                 stop a service (NAME.service): its socket keeps
                               listening and starts it again on the next
                               connection; stop a socket (NAME or NAME.socket):
                               its service stops and its listeners close
  restart [--graceful] UNIT... restart a service; its listeners stay open.
                               --graceful: start a new instance, stop the old one
                               once the new one is ready (Accept=no services)
  reload [UNIT...]             re-read the unit directories; with units, run their ExecReload=
  upgrade [--binary PATH]      re-execute sockd with a new binary (default: the
                               path it was started from), keeping its pid, its
                               listeners and its running services; refused, with
                               nothing changed, if the binary or the units fail
                               the check
  is-active [--quiet] UNIT...  print the state; exit 0 if active, 3 if not
  cat UNIT...                  print the files a unit was loaded from
  kill [--signal SIG] UNIT...  send SIG (default SIGTERM) to the service's
                               processes (of NAME.socket: its service's)
  reset-failed [UNIT...]       clear the failed state of the units (or all):
                               a failed socket becomes inactive until started
  help [VERB]                  print this, or the entry for VERB
  edit UNIT                    write a drop-in (UNIT.d/override.conf next to the
                               unit's file) in $EDITOR; it is checked with
                               sockd --check before it is saved, then sockd
                               reloads
  list-dependencies UNIT...    the unit and what it depends on: a socket
                               its service, a service its socket
  show [-p NAME]... [--value] UNIT...
                               print properties as NAME=value, as systemctl show
  is-failed [--quiet] UNIT...  print the state; exit 0 if any is failed, else 1
  logs [-f] [-n N] [--since T] UNIT
                               print the unit's log (socket, service and its
                               instances; the last 1000 records sockd kept, an
                               upgrade included):
                               -n N the last N, --since 10m or a time
                               (2006-01-02 15:04:05), -f then follow it
  completion bash|zsh|fish     print a shell completion script

Enablement of systemd units (sockd --systemd-units), as systemctl does it,
on the files of /etc/systemd/system (under --root DIR if given); no
running sockd is needed, and "sockctl reload" applies the change:
  enable UNIT...               link the unit as its [Install] section says
  disable UNIT...              remove those links
  mask UNIT...                 link the unit to /dev/null: never started
  unmask UNIT...               remove the mask
  is-enabled [--quiet] UNIT... print enabled, disabled, static, masked, …;
                               exit 0 if enabled (or static), else 1

Units are named as systemd names them (web.socket, web.service); a bare
name means the socket unit. The runtime directory defaults to
$SOCKD_RUNTIME_DIR, else /run/sockd for root, else $XDG_RUNTIME_DIR/sockd.
Exit status: 0 ok, 1 failure, 2 usage, 3 not active, 4 no such unit.
`
