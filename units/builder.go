package units

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Assignment is one "Directive=Value" line of a unit file, as a parser
// read it. The TOML format produces the same assignments from its keys.
type Assignment struct {
	Section   string // "Unit", "Socket", "Service" or "Install"
	Directive string // the systemd spelling, e.g. "ListenStream"
	// Value is in systemd syntax: continuation lines joined, surrounding
	// whitespace trimmed, quotes, escapes and specifiers not yet processed.
	Value string
	Pos   Position
}

// Builder assembles a Unit from assignments, in file order, the way
// systemd applies a unit file and then its drop-ins. It collects every
// problem instead of stopping at the first.
type Builder struct {
	unit     *Unit // what Finish returns: built in place, never copied
	env      SpecifierEnv
	errs     ErrorList
	burstSet bool
}

// Defaults as systemd documents them.
const (
	DefaultBacklog        = 4096 // SOMAXCONN
	DefaultMaxConnections = 64
	DefaultTimeout        = 90 * time.Second
	DefaultRestartSec     = 100 * time.Millisecond
	DefaultTriggerLimit   = 2 * time.Second
	DefaultGracefulReady  = time.Second // GracefulReadySec=, sockd's own
)

func defaultUnit(name string) Unit {
	return Unit{
		Name: name,
		Socket: Socket{
			Backlog:              DefaultBacklog,
			BindIPv6Only:         BindIPv6Default,
			SocketMode:           0666,
			DirectoryMode:        0755,
			MaxConnections:       DefaultMaxConnections,
			TriggerLimitInterval: DefaultTriggerLimit,
			TriggerLimitBurst:    20,
			Helpers:              SocketHelpers{Timeout: DefaultTimeout, PollLimitInterval: DefaultPollLimit},
		},
		Service: Service{
			Type:          TypeSimple,
			UMask:         0022,
			Restart:       RestartNo,
			RestartSec:    DefaultRestartSec,
			TimeoutStart:  DefaultTimeout,
			TimeoutStop:   DefaultTimeout,
			GracefulReady: DefaultGracefulReady,
			KillMode:      KillControlGroup,
			KillSignal:    syscall.SIGTERM,
			SendSIGKILL:   true,
			StandardInput: StdinNull,
			Dirs:          ExecDirs{Modes: [NumDirKinds]os.FileMode{0o755, 0o755, 0o755, 0o755, 0o755}, RuntimePreserve: "no"},
			Exits: ExitRules{StartLimitInterval: DefaultStartLimitInterval, StartLimitBurst: DefaultStartLimitBurst,
				FinalKillSignal: syscall.SIGKILL},
			Ready:   Readiness{WatchdogSignal: syscall.SIGABRT, GuessMainPID: true},
			Logging: Logging{SyslogFacility: 3, SyslogLevel: 6, SyslogLevelPrefix: true, LogLevelMax: 7},
		},
		Where: Positions{},
	}
}

// NewBuilder starts a unit named name (the socket unit's name without
// ".socket") with systemd's defaults.
func NewBuilder(name string, env SpecifierEnv) *Builder {
	u := defaultUnit(name)
	return &Builder{unit: &u, env: env}
}

// Socket returns the socket settings applied so far; after the socket file
// and its drop-ins, its ServiceName tells which service file to read.
func (b *Builder) Socket() *Socket { return &b.unit.Socket }

// AddFile records a file the unit was loaded from.
func (b *Builder) AddFile(path string) { b.unit.Files = append(b.unit.Files, path) }

// AddError records a problem found outside Apply.
func (b *Builder) AddError(err error) { b.errs = append(b.errs, err) }

// Apply applies one assignment found in the file of unitFile ("web.socket",
// "web.service" or "web@.service"), which decides the allowed sections and
// what the specifiers %n, %N, %p, %i… expand to. An empty value resets the
// directive to its default (a list to empty).
func (b *Builder) Apply(unitFile string, a Assignment) {
	if err := b.apply(unitFile, a); err != nil {
		b.errs = append(b.errs, &Error{Pos: a.Pos, Err: err})
	}
}

func (b *Builder) apply(unitFile string, a Assignment) error {
	kind := unitFile[strings.LastIndexByte(unitFile, '.')+1:]
	if strings.HasPrefix(a.Section, "X-") || strings.HasPrefix(a.Directive, "X-") {
		return nil // extensions, which systemd ignores too
	}
	switch {
	case a.Section == "Unit" || a.Section == "Install":
	case a.Section == "Socket" && kind == "socket", a.Section == "Service" && kind == "service":
	default:
		return fmt.Errorf("section [%s] does not belong in a .%s unit", a.Section, kind)
	}
	if a.Section == "Service" && legacyUnitDirective(a.Directive) {
		a.Section = "Unit"
	}
	if a.Section == "Unit" && kind == "socket" && socketIgnoresUnit(a.Directive) {
		return nil
	}
	dir, ok := directiveIndex()[Key(a.Section, a.Directive)]
	if err := unsupportedCondition(a.Directive); !ok && a.Section == "Unit" && err != nil {
		return err
	}
	if !ok {
		// nil for an ignored directive, whose value is never looked at.
		return unknownDirective(a.Section, a.Directive)
	}
	value, err := expandSpecifiers(a.Value, unitFile, b.env, kind == "service" && isTemplateName(unitFile), splitsWords(dir.DirectiveInfo))
	if err != nil {
		return err
	}
	if _, _, isCondition := splitCondition(a.Directive); isCondition && a.Section == "Unit" {
		if err := b.applyCondition(kind, a.Directive, value); err != nil {
			return err
		}
		b.unit.Where[Key(a.Section, a.Directive)] = a.Pos
		return nil
	}
	if dir.set == nil { // Description=, Documentation=
		return b.applyDescription(kind, a.Directive, value)
	}
	if value == "" {
		def := defaultUnit(b.unit.Name) // made here: resets are rare, and a Unit is large
		dir.reset(b.unit, &def)
		b.forget(dir, a.Pos)
		return nil
	}
	if a.Directive == "TriggerLimitBurst" {
		b.burstSet = true
	}
	before := b.elements(dir)
	if err := dir.set(b.unit, value); err != nil {
		return err
	}
	b.record(dir, a.Pos, before)
	return nil
}

// record remembers where a directive, and each list element, was set.
func (b *Builder) record(dir *directive, pos Position, before int) {
	b.unit.Where[Key(dir.Section, dir.Name)] = pos
	key := func(i int) string { return ElemKey(dir.Section, dir.Name, i) }
	if dir.Kind == KindAddress {
		key = func(i int) string { return ElemKey("Socket", "Listen", i) }
	}
	for i := before; i < b.elements(dir); i++ {
		b.unit.Where[key(i)] = pos
	}
}

// elements returns how many elements the list of a Listen*= or Exec*=
// directive holds (0 for other directives), so that record only
// positions the ones an assignment added.
func (b *Builder) elements(dir *directive) int {
	switch dir.Kind {
	case KindAddress:
		return len(b.unit.Socket.Listeners)
	case KindCommand:
		return len(*unitCommands(b.unit, dir.Section, dir.Name))
	}
	return 0
}

// forget undoes what record remembered of a directive that an empty
// assignment reset: the positions of the list elements it cleared (new
// elements are numbered from 0 again) and, for TriggerLimitBurst=, that
// it was set. The reset itself becomes where the directive was last set.
func (b *Builder) forget(dir *directive, pos Position) {
	prefix := ""
	switch dir.Kind {
	case KindAddress:
		prefix = Key("Socket", "Listen") + "#"
	case KindCommand:
		prefix = Key(dir.Section, dir.Name) + "#"
	}
	if prefix != "" {
		for k := range b.unit.Where {
			if strings.HasPrefix(k, prefix) {
				delete(b.unit.Where, k)
			}
		}
	}
	b.unit.Where[Key(dir.Section, dir.Name)] = pos
	if dir.Name == "TriggerLimitBurst" {
		b.burstSet = false
	}
}

// splitsWords reports whether a directive's value is split into words
// (which decides how specifiers are substituted into it): commands and
// the lists of words, but not EnvironmentFile=, whose value is one path.
func splitsWords(d DirectiveInfo) bool {
	return d.Kind == KindCommand || d.Kind == KindList && d.Name != "EnvironmentFile"
}

// commandsOf returns the command list of an Exec*= directive.
func commandsOf(s *Service, name string) *[]Command {
	switch name {
	case "ExecStart":
		return &s.ExecStart
	case "ExecStartPre":
		return &s.ExecStartPre
	case "ExecStartPost":
		return &s.ExecStartPost
	case "ExecStop":
		return &s.ExecStop
	case "ExecReload":
		return &s.ExecReload
	case "ExecCondition":
		return &s.ExecCondition
	case "ExecStopPost":
		return &s.ExecStopPost
	}
	panic("units: not a command directive: " + name)
}

// applyDescription stores [Unit] Description= and Documentation= on the
// socket or the service, depending on the file they are in.
func (b *Builder) applyDescription(kind, directive, value string) error {
	desc, docs := &b.unit.Socket.Description, &b.unit.Socket.Documentation
	if kind == "service" {
		desc, docs = &b.unit.Service.Description, &b.unit.Service.Documentation
	}
	if directive == "Description" {
		*desc = value
		return nil
	}
	if value == "" {
		*docs = nil
		return nil
	}
	words, err := SplitWords(value, false)
	if err != nil {
		return err
	}
	*docs = append(*docs, words...)
	return nil
}

// ServiceName returns the name of the service s activates for the socket
// unit named name: Service=, or NAME@.service with Accept=yes, or
// NAME.service. The socket instance NAME@INSTANCE with Accept=yes
// activates NAME@.service, as in systemd (its prefix names the template).
func (s *Socket) ServiceName(name string) string {
	switch {
	case s.Service != "" && !s.Accept:
		return s.Service
	case s.Accept:
		prefix, _, _ := strings.Cut(name, "@")
		return prefix + "@.service"
	}
	return name + ".service"
}

// Finish applies the defaults that depend on other settings. It returns
// the unit and every problem found while building it (an ErrorList), or a
// nil error. Validate checks the finished unit as a whole. Finish is the
// Builder's last call: the unit it returns is the one it built.
func (b *Builder) Finish() (*Unit, error) {
	u := b.unit
	sockPos := func(directive string) Position { return b.pos("Socket", directive) }
	if u.Socket.Accept && !b.burstSet {
		u.Socket.TriggerLimitBurst = 200
	}
	if u.Socket.Accept && u.Socket.Service != "" {
		b.errs = append(b.errs, Errorf(sockPos("Service"), "Service= cannot be combined with Accept=yes"))
	}
	u.Service.Name = u.Socket.ServiceName(u.Name)
	if u.Service.StandardOutput.Kind == "" {
		u.Service.StandardOutput.Kind = OutJournal
		if u.Service.StandardInput == StdinSocket {
			u.Service.StandardOutput.Kind = OutInherit
		}
	}
	if _, typeSet := u.Where[Key("Service", "Type")]; u.Service.Ready.BusName != "" && !typeSet {
		u.Service.Type = TypeDbus // systemd.service(5): BusName= without Type= implies dbus
	}
	if u.Service.StandardError.Kind == "" {
		u.Service.StandardError.Kind = OutInherit
	}
	return u, b.errs.Err()
}

// pos returns where a directive was set, or the unit's first file.
func (b *Builder) pos(section, directive string) Position {
	return positionOf(b.unit, section, directive)
}

func positionOf(u *Unit, section, directive string) Position {
	if p, ok := u.Where[Key(section, directive)]; ok {
		return p
	}
	p := Position{}
	if len(u.Files) > 0 {
		p.File = u.Files[0]
		if section == "Service" && len(u.Files) > 1 {
			p.File = u.Files[len(u.Files)-1]
		}
	}
	return p
}

var errNoListener = errors.New("no Listen*= directive: the socket has nothing to listen on")
