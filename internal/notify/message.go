package notify

import (
	"bytes"
	"errors"
	"github.com/sockd/sockd/units"
	"strconv"
	"strings"
)

// Message is one sd_notify(3) datagram from a service. Parse fills the
// fields it knows; every assignment is also in Fields.
type Message struct {
	// PID, UID and GID are the sender's credentials (SCM_CREDENTIALS);
	// Parse leaves them zero, the Receiver sets them.
	PID, UID, GID int

	Ready     bool    // READY=1
	Reloading bool    // RELOADING=1
	Stopping  bool    // STOPPING=1
	Barrier   bool    // BARRIER=1
	Status    *string // STATUS=…; nil when absent
	// MonotonicUsec is MONOTONIC_USEC=, sent with RELOADING=1; 0 if absent.
	MonotonicUsec uint64
	MainPID       int  // MAINPID=; 0 when absent or invalid
	Errno         *int // ERRNO=; nil when absent or invalid
	ExitStatus    *int // EXIT_STATUS=; nil when absent or invalid

	FDStore       bool   // FDSTORE=1: keep the attached fds
	FDStoreRemove bool   // FDSTOREREMOVE=1: drop the stored fds named FDName
	FDName        string // FDNAME=; "" when absent or not a valid name
	FDPoll        bool   // false only with FDPOLL=0

	// Files are the fds attached to an FDSTORE=1 message, close-on-exec
	// and owned by the handler, which must keep or close them. They are
	// nil for any other message: its fds are closed on receipt.
	Files []int

	// Fields holds every KEY=VALUE of the message; for a key given more
	// than once, the last value.
	Fields map[string]string
}

// Parse errors.
var (
	ErrEmpty         = errors.New("notify: empty message")
	ErrNUL           = errors.New("notify: message contains a NUL byte")
	ErrNoAssignments = errors.New("notify: message has no KEY=VALUE line")
)

// Parse parses the payload of a notification: newline-separated
// KEY=VALUE assignments, the last newline optional. Lines without "=" are
// ignored, as are unknown keys (they are kept in Fields). A value that is
// not valid for its key leaves the typed field unset. An empty payload,
// one with a NUL byte, or one without any assignment is an error.
func Parse(b []byte) (Message, error) {
	m := Message{FDPoll: true}
	if len(b) == 0 {
		return m, ErrEmpty
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return m, ErrNUL
	}
	m.Fields = map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		m.Fields[k] = v
		m.set(k, v)
	}
	if len(m.Fields) == 0 {
		return m, ErrNoAssignments
	}
	return m, nil
}

func (m *Message) set(k, v string) {
	switch k {
	case "READY":
		m.Ready = m.Ready || v == "1"
	case "RELOADING":
		m.Reloading = m.Reloading || v == "1"
	case "STOPPING":
		m.Stopping = m.Stopping || v == "1"
	case "BARRIER":
		m.Barrier = m.Barrier || v == "1"
	case "STATUS":
		m.Status = &v
	case "MONOTONIC_USEC":
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			m.MonotonicUsec = n
		}
	case "MAINPID":
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			m.MainPID = n
		}
	case "ERRNO":
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			m.Errno = &n
		}
	case "EXIT_STATUS":
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 255 {
			m.ExitStatus = &n
		}
	case "FDSTORE":
		m.FDStore = m.FDStore || v == "1"
	case "FDSTOREREMOVE":
		m.FDStoreRemove = m.FDStoreRemove || v == "1"
	case "FDNAME":
		if units.ValidFDName(v) {
			m.FDName = v
		}
	case "FDPOLL":
		m.FDPoll = v != "0"
	}
}
