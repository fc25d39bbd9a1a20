// Command sockctl controls a running sockd through its control socket,
// in the manner of systemctl.
//
// Usage:
//
//	sockctl [--runtime-dir DIR] [--json] VERB [ARGS]
//
//	list [--all] [--no-legend]   the socket units and their listeners
//	status UNIT...               state, files, listeners, PID, last exit, last log lines
//	start|stop|restart UNIT...   act on a unit (stop NAME.service: its socket
//	                             keeps listening; stop NAME.socket: both stop)
//	restart --graceful UNIT...   start a new instance, stop the old one once it is ready
//	reload [UNIT...]             re-read the unit directories; with units, run their ExecReload=
//	upgrade [--binary PATH]      re-execute sockd with a new binary, refusing nothing
//	is-active [--quiet] UNIT...  print the state; exit 0 if active, 3 if not
//	cat UNIT...                  print the files a unit was loaded from
//	logs [-f] [-n N] [--since T] UNIT   the unit's log, as journalctl -u [-f]
//	show [-p NAME]... [--value] UNIT... properties as NAME=value
//	is-failed [--quiet] UNIT...  exit 0 if any unit is failed, else 1
//	kill [--signal SIG] UNIT...  signal the service's processes
//	reset-failed [UNIT...]       clear the failed state
//	help [VERB]                  the usage, or one verb's entry
//	completion bash|zsh|fish     print a shell completion script
//	enable|disable|mask|unmask UNIT...  systemctl's enablement links, no daemon needed
//	is-enabled [--quiet] UNIT...        enabled, disabled, static, masked, …
//
// Unit names are spelled as systemd spells them (web.socket, web.service);
// a bare name means the socket unit. Exit codes follow systemctl: 0 ok,
// 1 failure, 2 usage, 3 not active, 4 no such unit.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
