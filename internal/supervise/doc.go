// Package supervise runs one unit: it owns the unit's listeners while the
// unit is loaded, watches them while the service is idle, starts the
// service on the first readable event with the listeners as fds 3, 4, …,
// and follows the service's lifecycle as systemd.service(5) and
// systemd.socket(5) define it: Type=simple, exec and notify, ExecStartPre=,
// ExecStartPost=, ExecStop=, Restart= and RestartSec=,
// TriggerLimitIntervalSec=/TriggerLimitBurst=, and stopping with KillMode=,
// KillSignal=, TimeoutStopSec= and SIGKILL. A graceful restart
// (graceful.go) starts a new instance beside the running one and stops
// the old one once the new one is ready.
//
// With Accept=yes the unit runs an accept loop instead (accept.go): one
// instance of the template service per connection, MaxConnections= and
// MaxConnectionsPerSource= enforced. An instance without ExecStartPre=
// and ExecStartPost= is started by the loop itself and ended by the
// reaper's report of its exit (accept_inline.go); any other is owned by
// a goroutine of the loop.
//
// Each Unit is a state machine owned by one goroutine, which runs only
// while the unit has work (wake.go): an idle unit holds no goroutine. The
// listener watcher, the reaper, the notify receiver and the control API
// talk to it by message, and Status returns a snapshot. The listeners are never closed while the
// unit is loaded, whatever the service does: a crashing service never
// refuses a connection, it only delays it until the next start.
package supervise
