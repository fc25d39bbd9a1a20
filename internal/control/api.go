// Package control is sockd's control API as its clients see it: the types of
// a versioned HTTP+JSON API served on a Unix socket (RUNTIME_DIR/control.sock)
// and the client sockctl uses; the server is internal/controlserver.
//
// The API, every path under /v1:
//
//	GET  /v1/units                       {"units": [Unit, ...]}, one per socket unit
//	GET  /v1/units/{name}                Unit ("web", "web.socket", "web.service", "web@x.service")
//	GET  /v1/units/{name}/files          {"files": [File, ...]}, what `sockctl cat` prints
//	POST /v1/units/{name}/start          Unit after the action
//	POST /v1/units/{name}/stop           Unit after the action
//	POST /v1/units/{name}/restart        Unit after the action; body {"graceful": true}: graceful restart
//	POST /v1/reload                      {"ok": true} once the unit directories were re-read
//	GET  /v1/daemon                      Daemon: pid, version, generation, binary
//	POST /v1/upgrade                     Daemon being replaced; body UpgradeRequest (upgrade.go)
//
// A POST body is optional; if present it must be a JSON object with only
// the fields its request defines (restart: ActionRequest; upgrade:
// UpgradeRequest; none elsewhere), unknown ones are refused. A graceful
// restart answers once the new instance is ready, or with an Error saying
// why it failed and that the old instance was kept. Every error is
// answered with an Error as JSON. Anyone who can connect may read; changes
// are allowed to root, to sockd's own user and to members of the
// configured group, as identified by SO_PEERCRED.
package control

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Version is the API version, the first element of every path.
const Version = "v1"

// SocketName is the control socket's file name in the runtime directory.
const SocketName = "control.sock"

// Unit is the state of a socket unit or of the service it activates.
type Unit struct {
	Name        string `json:"name"`    // "web.socket" or "web.service"
	Kind        string `json:"kind"`    // "socket" or "service"
	Socket      string `json:"socket"`  // the socket unit: "web.socket"
	Service     string `json:"service"` // the service it activates: "web.service" or "web@.service"
	Description string `json:"description,omitempty"`
	// ActiveState and SubState are named as systemctl names them:
	// active/listening, active/running, failed/failed for a socket;
	// inactive/dead, activating/start, active/running, deactivating/stop,
	// activating/auto-restart, failed/failed for a service.
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
	// State is the supervisor's own state of the unit (listening,
	// starting, running, stopping, auto-restart, failed).
	State       string    `json:"state"`
	Result      string    `json:"result,omitempty"`
	Since       time.Time `json:"since"`
	MainPID     int       `json:"main_pid,omitempty"`
	Activations int       `json:"activations"`
	Refused     int       `json:"refused"`
	Restarts    int       `json:"restarts"`
	StatusText  string    `json:"status_text,omitempty"`
	// Condition says which Condition*=/Assert*= (or ExecCondition=)
	// failed at the last start, "" when they held.
	Condition string `json:"condition,omitempty"`
	LastExit  *Exit  `json:"last_exit,omitempty"`
	// Connections and Instances are the live per-connection instances of
	// an Accept=yes socket (systemctl's "Connected:").
	Connections int        `json:"connections,omitempty"`
	Instances   []Instance `json:"instances,omitempty"`
	Listeners   []Listener `json:"listeners"`
	Files       []string   `json:"files"`

	// FDStore is the service's fd store (FDSTORE=1), in the order the
	// service gets the fds; FDStoreMax is its FileDescriptorStoreMax=.
	FDStore    []StoredFD `json:"fdstore,omitempty"`
	FDStoreMax int        `json:"fdstore_max,omitempty"`

	// DrainingPIDs are old main processes a graceful restart replaced
	// that are still being stopped, finishing their requests.
	DrainingPIDs []int `json:"draining_pids,omitempty"`

	// Errors are the problems of a unit sockd could not load
	// (SubState "bad-setting"), each as path:line: [Section] Directive: …
	Errors []string `json:"errors,omitempty"`
	// Log holds the unit's last log records, oldest first.
	Log []LogRecord `json:"log,omitempty"`
}

// LogRecord is one of a unit's last log records (internal/logring keeps
// them).
type LogRecord struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	// Attrs are the record's other attributes, in order, the unit
	// attribute left out; in JSON an object of JSON values.
	Attrs LogAttrs `json:"attrs,omitempty"`
}

// String formats r as one line: "Jan 02 15:04:05 WARN message key=value ...".
func (r LogRecord) String() string {
	var b strings.Builder
	b.WriteString(r.Time.Format("Jan 02 15:04:05"))
	b.WriteByte(' ')
	b.WriteString(r.Level)
	b.WriteByte(' ')
	b.WriteString(r.Message)
	for _, a := range r.Attrs {
		b.WriteByte(' ')
		b.WriteString(a.String())
	}
	return b.String()
}

// StoredFD is one entry of a service's fd store, as systemd-analyze
// fdstore lists it.
type StoredFD struct {
	Name   string `json:"name"`   // FDNAME=
	Type   string `json:"type"`   // "sock", "reg", "fifo", …
	Dev    uint64 `json:"dev"`    // st_dev
	Inode  uint64 `json:"inode"`  // st_ino
	Target string `json:"target"` // readlink of /proc/self/fd/N in sockd
}

// IsActive reports whether the unit counts as active for is-active.
func (u *Unit) IsActive() bool { return u.ActiveState == "active" }

// Exit is how the service's main process last ended.
type Exit struct {
	Code   string `json:"code"`   // "exited", "killed" or "dumped"
	Status int    `json:"status"` // exit status or signal number
	// Text is as systemctl shows it: "code=exited, status=203/EXEC".
	Text string `json:"text"`
}

// Instance is a live per-connection instance of an Accept=yes socket.
type Instance struct {
	Name   string    `json:"name"`   // "echo@0-127.0.0.1:7-127.0.0.1:40000.service"
	PID    int       `json:"pid"`    // 0 while it is being started
	Remote string    `json:"remote"` // the peer: "127.0.0.1:40000", "[::1]:40000", …
	Since  time.Time `json:"since"`
}

// Listener is one listening socket of a unit.
type Listener struct {
	Listen string `json:"listen"` // the address as written: "127.0.0.1:8080", "/run/web.sock"
	Type   string `json:"type"`   // as list-sockets shows it: Stream, Datagram, SequentialPacket, FIFO
	// Closed is set while the unit is failed for good: the socket is
	// closed and connections are refused until the unit is started again.
	Closed bool `json:"closed,omitempty"`
}

// File is one file a unit was loaded from, with its current content.
type File struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// Action is what a POST to /v1/units/{name}/{action} asks for.
type Action string

// The actions.
const (
	Start   Action = "start"
	Stop    Action = "stop"
	Restart Action = "restart"
	// ReloadUnit runs the service's ExecReload= (systemctl reload UNIT).
	ReloadUnit Action = "reload"
)

// ActionRequest is the body of POST /v1/units/{name}/restart.
type ActionRequest struct {
	// Graceful asks for a graceful restart: a new instance is started
	// beside the running one, which is stopped once the new one is
	// ready (docs/units.md, "Graceful restart").
	Graceful bool `json:"graceful,omitempty"`
}

// Error is the body of every error response, and what the client returns
// for one.
type Error struct {
	Status  int    `json:"status"`
	Unit    string `json:"unit,omitempty"`
	Message string `json:"error"`
}

func (e *Error) Error() string {
	if e.Unit != "" {
		return e.Unit + ": " + e.Message
	}
	return e.Message
}

// Errorf returns an *Error with an HTTP status.
func Errorf(status int, unit, format string, args ...any) *Error {
	return &Error{Status: status, Unit: unit, Message: fmt.Sprintf(format, args...)}
}

// NoSuchUnit is the error for a unit that is not loaded.
func NoSuchUnit(name string) *Error {
	return Errorf(http.StatusNotFound, name, "no such unit")
}

// NotSupported is the error for an action sockd cannot do yet.
func NotSupported(name, what string) *Error {
	return Errorf(http.StatusNotImplemented, name, "%s: not supported yet", what)
}

// IsNoSuchUnit reports whether err says that a unit does not exist.
func IsNoSuchUnit(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// States maps the supervisor's state and result of a unit to systemctl's
// active state and sub-state, for the socket unit (kind "socket") or for
// the service it activates (kind "service").
func States(kind, state, result string) (active, sub string) {
	if state == "stopped" { // the socket was stopped: no listeners, no service
		return "inactive", "dead"
	}
	if kind == "socket" {
		switch state {
		case "failed":
			return "failed", "failed"
		case "listening":
			return "active", "listening"
		default: // the service starts, runs, stops or waits to restart
			return "active", "running"
		}
	}
	switch state {
	case "starting":
		return "activating", "start"
	case "running":
		return "active", "running"
	case "stopping":
		return "deactivating", "stop"
	case "auto-restart":
		return "activating", "auto-restart"
	case "failed":
		return "failed", "failed"
	}
	if result != "" && result != "success" {
		return "failed", "failed"
	}
	return "inactive", "dead"
}

// ResolveRuntimeDir picks sockd's runtime directory as sockd does: the
// flag's value, else $SOCKD_RUNTIME_DIR, else /run/sockd for root and
// $XDG_RUNTIME_DIR/sockd for other users.
func ResolveRuntimeDir(flagValue string) (string, error) {
	dir := flagValue
	if dir == "" {
		dir = os.Getenv("SOCKD_RUNTIME_DIR")
	}
	if dir == "" && os.Getuid() == 0 {
		dir = "/run/sockd"
	}
	if dir == "" {
		xdg := os.Getenv("XDG_RUNTIME_DIR")
		if xdg == "" {
			return "", fmt.Errorf("no runtime directory: pass --runtime-dir or set SOCKD_RUNTIME_DIR or XDG_RUNTIME_DIR")
		}
		dir = filepath.Join(xdg, "sockd")
	}
	return filepath.Abs(dir)
}
