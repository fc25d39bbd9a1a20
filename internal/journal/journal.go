// Package journal logs a service's output lines the way systemd's
// StandardOutput=journal does (systemd.exec(5) "Logging and Standard
// Input/Output"): each line gets a priority (SyslogLevel=, or the "<N>"
// prefix with SyslogLevelPrefix=), lines above LogLevelMax= are dropped,
// and the rest go to the host's journald over its native protocol
// (/run/systemd/journal/socket, systemd.journal-fields(7)) with
// SYSLOG_IDENTIFIER and the unit's name when journald runs, else to
// sockd's log; "+console" also writes them to sockd's log, kmsg to the
// kernel log (/dev/kmsg).
package journal

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/sockd/sockd/units"
)

// SocketPath is journald's native socket.
const SocketPath = "/run/systemd/journal/socket"

// Config is what Handler needs about the service.
type Config struct {
	Unit       string // the service's unit name
	Identifier string // SyslogIdentifier=, or the program's name
	Logging    units.Logging
	// Stdout and Stderr are StandardOutput= and StandardError= kinds.
	Stdout, Stderr string
	// Socket is journald's socket; "" means SocketPath.
	Socket string
}

// Handler wraps sockd's log handler for the output records of a
// service's streams (spawn logs each line as one record with a
// "stream" attribute).
func Handler(base slog.Handler, cfg Config) slog.Handler {
	if cfg.Socket == "" {
		cfg.Socket = SocketPath
	}
	return &handler{base: base, cfg: &cfg}
}

type handler struct {
	base   slog.Handler
	cfg    *Config
	stream string // from WithAttrs
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return true }

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{base: h.base.WithGroup(name), cfg: h.cfg, stream: h.stream}
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &handler{base: h.base.WithAttrs(as), cfg: h.cfg, stream: h.stream}
	for _, a := range as {
		if a.Key == "stream" {
			n.stream = a.Value.String()
		}
	}
	return n
}

// Handle routes one output line.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	msg, prio := h.priority(r.Message)
	if prio > h.cfg.Logging.LogLevelMax {
		return nil
	}
	kind := h.cfg.Stdout
	if h.stream == "stderr" {
		kind = h.cfg.Stderr
	}
	toLog := kind != units.OutKmsg
	switch kind {
	case units.OutKmsg, units.OutKmsgConsole:
		writeKmsg(h.cfg, prio, msg)
	default:
		if sendJournal(h.cfg, prio, msg) == nil && kind != units.OutJournalConsole {
			toLog = false
		}
	}
	if !toLog {
		return nil
	}
	nr := slog.NewRecord(r.Time, levelOf(prio), msg, r.PC)
	nr.AddAttrs(slog.String("syslog_identifier", h.cfg.Identifier), slog.Int("priority", prio))
	return h.base.Handle(ctx, nr)
}

// priority returns the line without a "<N>" prefix and its priority.
func (h *handler) priority(line string) (string, int) {
	prio := h.cfg.Logging.SyslogLevel
	if h.cfg.Logging.SyslogLevelPrefix && len(line) >= 3 && line[0] == '<' && line[2] == '>' && line[1] >= '0' && line[1] <= '7' {
		return line[3:], int(line[1] - '0')
	}
	return line, prio
}

// levelOf maps a syslog priority to a slog level for sockd's log.
func levelOf(prio int) slog.Level {
	switch {
	case prio <= 3:
		return slog.LevelError
	case prio == 4:
		return slog.LevelWarn
	case prio <= 6:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

var conns sync.Map // socket path → *net.UnixConn

// sendJournal sends one entry over journald's native protocol; an error
// means journald is not there (or refused it).
func sendJournal(cfg *Config, prio int, msg string) error {
	c, err := journalConn(cfg.Socket)
	if err != nil {
		return err
	}
	var b strings.Builder
	field(&b, "MESSAGE", msg)
	field(&b, "PRIORITY", strconv.Itoa(prio))
	field(&b, "SYSLOG_FACILITY", strconv.Itoa(cfg.Logging.SyslogFacility))
	field(&b, "SYSLOG_IDENTIFIER", cfg.Identifier)
	field(&b, "UNIT", cfg.Unit)
	_, err = c.Write([]byte(b.String()))
	return err
}

func journalConn(path string) (*net.UnixConn, error) {
	if c, ok := conns.Load(path); ok {
		return c.(*net.UnixConn), nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	if old, loaded := conns.LoadOrStore(path, c); loaded {
		c.Close()
		return old.(*net.UnixConn), nil
	}
	return c, nil
}

// field appends KEY=VALUE, or the binary form for a value with a newline.
func field(b *strings.Builder, key, value string) {
	if !strings.Contains(value, "\n") {
		b.WriteString(key + "=" + value + "\n")
		return
	}
	n := uint64(len(value))
	b.WriteString(key + "\n")
	for i := 0; i < 8; i++ {
		b.WriteByte(byte(n >> (8 * i)))
	}
	b.WriteString(value + "\n")
}

// writeKmsg writes "<PRI>IDENT: MSG" to the kernel log.
func writeKmsg(cfg *Config, prio int, msg string) {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString("<" + strconv.Itoa(cfg.Logging.SyslogFacility<<3|prio) + ">" + cfg.Identifier + ": " + msg + "\n")
}
