package supervise

import (
	"log/slog"
	"path/filepath"

	"github.com/sockd/sockd/internal/journal"
	"github.com/sockd/sockd/units"
)

// logKind reports whether an output kind is logged line by line
// (internal/journal routes the lines).
func logKind(kind string) bool {
	switch kind {
	case units.OutJournal, units.OutJournalConsole, units.OutKmsg, units.OutKmsgConsole:
		return true
	}
	return false
}

// outputLog returns the logger of a process's logged streams: sockd's,
// wrapped so that the lines get SyslogIdentifier= (or the program's
// name), their priority, LogLevelMax=, and go to journald or the
// kernel log as StandardOutput= and StandardError= say.
func (u *Unit) outputLog(svc *units.Service, program string) *slog.Logger {
	base := u.deps.Log
	if base == nil {
		base = slog.Default()
	}
	ident := svc.Logging.SyslogIdentifier
	if ident == "" {
		ident = filepath.Base(program)
	}
	stderr := svc.StandardError.Kind
	if stderr == units.OutInherit {
		stderr = svc.StandardOutput.Kind
	}
	logging := svc.Logging
	if logging == (units.Logging{}) { // settings made without units' defaults
		logging = units.Logging{SyslogFacility: 3, SyslogLevel: 6, SyslogLevelPrefix: true, LogLevelMax: 7}
	}
	return slog.New(journal.Handler(base.Handler(), journal.Config{
		Unit: svc.Name, Identifier: ident, Logging: logging,
		Stdout: svc.StandardOutput.Kind, Stderr: stderr,
	}))
}
