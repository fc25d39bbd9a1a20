package journal

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/units"
)

var defaults = units.Logging{SyslogFacility: 3, SyslogLevel: 6, SyslogLevelPrefix: true, LogLevelMax: 6}

// TestJournald: with a journald socket, lines go there as native
// entries (PRIORITY from the "<N>" prefix, SYSLOG_IDENTIFIER, UNIT), not
// to sockd's log; journal+console sends them to both; lines above
// LogLevelMax= go nowhere.
func TestJournald(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "journal.sock")
	srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out bytes.Buffer
	base := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
	cfg := Config{Unit: "web.service", Identifier: "webd", Logging: defaults, Stdout: units.OutJournal, Stderr: units.OutJournalConsole, Socket: sock}
	log := slog.New(Handler(base, cfg))
	log.With("stream", "stdout").Info("<3>disk on fire")
	log.With("stream", "stdout").Info("<7>too chatty")
	log.With("stream", "stderr").Info("multi\nline")

	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := srv.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(buf[:n]), "MESSAGE=disk on fire\nPRIORITY=3\nSYSLOG_FACILITY=3\nSYSLOG_IDENTIFIER=webd\nUNIT=web.service\n"; got != want {
		t.Errorf("first entry %q; want %q", got, want)
	}
	n, err = srv.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "MESSAGE\n\x0a\x00\x00\x00\x00\x00\x00\x00multi\nline\nPRIORITY=6\n") {
		t.Errorf("second entry %q; want MESSAGE in the binary form (the <7> line is over LogLevelMax=)", got)
	}
	logged := out.String()
	if strings.Contains(logged, "disk on fire") || !strings.Contains(logged, "multi") || strings.Contains(logged, "chatty") {
		t.Errorf("sockd's log got:\n%s\nwant only the journal+console line", logged)
	}
}

// TestNoJournald: without journald, lines go to sockd's log at their
// priority, with syslog_identifier.
func TestNoJournald(t *testing.T) {
	var out bytes.Buffer
	base := slog.NewTextHandler(&out, nil)
	cfg := Config{Unit: "web.service", Identifier: "webd", Logging: defaults, Stdout: units.OutJournal, Socket: filepath.Join(t.TempDir(), "none")}
	slog.New(Handler(base, cfg)).With("stream", "stdout").Log(context.Background(), slog.LevelInfo, "<4>low on disk")
	if got := out.String(); !strings.Contains(got, `level=WARN msg="low on disk" stream=stdout syslog_identifier=webd priority=4`) {
		t.Errorf("sockd's log: %s", got)
	}
}
