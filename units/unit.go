// Package units owns sockd's model of a unit: a socket unit (its listeners
// and their options) together with the service it activates. The model is
// independent of the file format; units/systemdfile and units/tomlfile
// produce it, and both go through the same directive table (Apply), so the
// same settings written in either format give the same Unit.
//
// The meaning of every field follows systemd.socket(5), systemd.service(5),
// systemd.exec(5) and systemd.kill(5); the doc comment of each field names
// the directive it comes from.
package units

import (
	"os"
	"syscall"
	"time"
)

// Unit is one socket unit and the service it activates. Its Name is the
// socket unit's name without the ".socket" suffix ("web" for web.socket).
type Unit struct {
	Name    string
	Socket  Socket
	Service Service
	// Files lists the files the unit was loaded from, main files first,
	// then drop-ins in the order they were applied.
	Files []string
	// Where records where each directive was last set, for error messages.
	// It is not part of the unit's meaning: Diff and Equal ignore it.
	Where Positions
}

// Socket holds the [Socket] section of a unit (systemd.socket(5)).
type Socket struct {
	Description   string   // [Unit] Description=
	Documentation []string // [Unit] Documentation=

	Listeners []Listener // ListenStream=, ListenDatagram=, ListenSequentialPacket=, ListenFIFO=, in file order

	Accept             bool   // Accept=
	Service            string // Service=: the unit activated; defaults to NAME.service, or NAME@.service with Accept=yes
	FileDescriptorName string // FileDescriptorName=; empty means the default name

	Backlog       int           // Backlog=; default SOMAXCONN
	BindIPv6Only  BindIPv6Only  // BindIPv6Only=
	BindToDevice  string        // BindToDevice=
	SocketUser    string        // SocketUser=
	SocketGroup   string        // SocketGroup=
	SocketMode    os.FileMode   // SocketMode=; default 0666
	DirectoryMode os.FileMode   // DirectoryMode=; default 0755
	FreeBind      bool          // FreeBind=
	Transparent   bool          // Transparent=
	ReusePort     bool          // ReusePort=
	Broadcast     bool          // Broadcast=
	KeepAlive     bool          // KeepAlive=
	NoDelay       bool          // NoDelay= (next to the other flags: a Unit fits 896 bytes)
	KeepAliveTime time.Duration // KeepAliveTimeSec=; 0 leaves the kernel default
	// KeepAliveInterval is KeepAliveIntervalSec=; 0 leaves the kernel default.
	KeepAliveInterval time.Duration
	KeepAliveProbes   int           // KeepAliveProbes=; 0 leaves the kernel default
	DeferAccept       time.Duration // DeferAcceptSec=; 0 is off
	Priority          *int          // Priority= (SO_PRIORITY); nil leaves it unset
	ReceiveBuffer     int64         // ReceiveBuffer= in bytes; 0 leaves it unset
	SendBuffer        int64         // SendBuffer= in bytes; 0 leaves it unset
	IPTOS             *int          // IPTOS=; nil leaves it unset
	IPTTL             *int          // IPTTL=; nil leaves it unset
	Mark              *int          // Mark= (SO_MARK); nil leaves it unset
	PassCredentials   bool          // PassCredentials=
	PassPacketInfo    bool          // PassPacketInfo=

	MaxConnections          int  // MaxConnections=; default 64
	MaxConnectionsPerSource int  // MaxConnectionsPerSource=; 0 is off
	RemoveOnStop            bool // RemoveOnStop=
	Symlinks                []string

	TriggerLimitInterval time.Duration // TriggerLimitIntervalSec=; default 2s, 0 disables
	TriggerLimitBurst    int           // TriggerLimitBurst=; default 20, or 200 with Accept=yes

	Extra   SocketExtra   // the rarer bind settings (directives_socket_more.go)
	Helpers SocketHelpers // Exec*=, TimeoutSec=, FlushPending=, PollLimit*= (directives_socket_more.go)
	// Conditions are [Unit] Condition*= and Assert*= of the socket file.
	// sockd binds the socket regardless, and checks them, with the
	// service's, before each start of the service (conditions.go).
	Conditions []Condition
}

// BindIPv6Only is the value of BindIPv6Only=.
type BindIPv6Only string

// The values BindIPv6Only= accepts.
const (
	BindIPv6Default  BindIPv6Only = "default"
	BindIPv6Both     BindIPv6Only = "both"
	BindIPv6OnlyIPv6 BindIPv6Only = "ipv6-only"
)

// Service holds the [Service] section of the unit a socket activates.
type Service struct {
	// Name is the service unit's name: "web.service", or the template
	// "web@.service" for Accept=yes.
	Name          string
	Description   string   // [Unit] Description=
	Documentation []string // [Unit] Documentation=

	Type ServiceType // Type=

	ExecStart     []Command // ExecStart=; exactly one
	ExecStartPre  []Command // ExecStartPre=
	ExecStartPost []Command // ExecStartPost=
	ExecStop      []Command // ExecStop=
	ExecReload    []Command // ExecReload=
	ExecCondition []Command // ExecCondition=: 1…254 skips the start
	ExecStopPost  []Command // ExecStopPost=: after the service stopped

	// Environment holds Environment= assignments as KEY=VALUE, in order;
	// a later assignment of the same key wins when the service starts.
	Environment []string
	// EnvironmentFiles holds EnvironmentFile= entries, read when the
	// service starts.
	EnvironmentFiles []EnvironmentFile
	// WorkingDirectory is WorkingDirectory=: "" means "/" (or the user's
	// home for "~"). WorkingDirectoryOptional is its "-" prefix.
	WorkingDirectory         string
	WorkingDirectoryOptional bool

	User                string      // User=
	Group               string      // Group=
	SupplementaryGroups []string    // SupplementaryGroups=
	UMask               os.FileMode // UMask=; default 0022
	NoNewPrivileges     bool        // NoNewPrivileges=
	LimitNOFILE         *Rlimit     // LimitNOFILE=; nil inherits sockd's

	// Sandbox holds the directives that confine the service (units/sandbox.go).
	Sandbox Sandbox

	Restart      RestartPolicy  // Restart=
	RestartSec   time.Duration  // RestartSec=; default 100ms
	TimeoutStart time.Duration  // TimeoutStartSec=; default 90s, 0 is infinity
	TimeoutStop  time.Duration  // TimeoutStopSec=; default 90s, 0 is infinity
	KillMode     KillMode       // KillMode=
	KillSignal   syscall.Signal // KillSignal=; default SIGTERM
	SendSIGKILL  bool           // SendSIGKILL=; default yes

	StandardInput  StdInput  // StandardInput=
	StandardOutput StdOutput // StandardOutput=
	StandardError  StdOutput // StandardError=

	FileDescriptorStoreMax int // FileDescriptorStoreMax=; default 0

	// GracefulReady is GracefulReadySec= (sockd's own): how long the new
	// instance of a Type=simple or Type=exec service started by a
	// graceful restart must have run after its exec before it counts as
	// ready and the old instance is stopped; default 1s. Type=notify
	// ignores it: READY=1 decides.
	GracefulReady time.Duration

	// NotifyAccess is NotifyAccess=; see EffectiveNotifyAccess. (Last,
	// so that the fields before it keep their index: the upgrade state
	// records some paths by field index.)
	NotifyAccess NotifyAccess
	Process      Process   // process attributes: Limit*=, Nice=, … (process.go)
	Dirs         ExecDirs  // RuntimeDirectory= and its siblings (execdirs.go)
	Exits        ExitRules // SuccessExitStatus=, StartLimit*=, … (exitrules.go)
	// Conditions are [Unit] Condition*= and Assert*= of the service
	// file, in order (conditions.go).
	Conditions []Condition
	Ready      Readiness // WatchdogSec=, PIDFile=, … (readiness.go)
	Resources  Resources // TasksMax=, MemoryMax=, … (resources.go)
	Logging    Logging   // SyslogIdentifier=, LogLevelMax=, … (logging.go)
}

// IsTemplate reports whether the service is a template ("name@.service")
// whose instances are started per connection.
func (s *Service) IsTemplate() bool { return isTemplateName(s.Name) }

// ServiceType is the value of Type=.
type ServiceType string

// The service types sockd supports.
const (
	TypeSimple ServiceType = "simple"
	TypeExec   ServiceType = "exec"
	TypeNotify ServiceType = "notify"
	// TypeForking: the started process forks the daemon and exits;
	// PIDFile= names the daemon (readiness.go).
	TypeForking ServiceType = "forking"
	// TypeOneshot: the ExecStart= commands run to their end, one after
	// another; RemainAfterExit= keeps the service active afterwards.
	TypeOneshot ServiceType = "oneshot"
	// TypeDbus: ready once BusName= appears on the system bus.
	TypeDbus ServiceType = "dbus"
)

// RestartPolicy is the value of Restart=.
type RestartPolicy string

// The values Restart= accepts (systemd.service(5)).
const (
	RestartNo         RestartPolicy = "no"
	RestartAlways     RestartPolicy = "always"
	RestartOnSuccess  RestartPolicy = "on-success"
	RestartOnFailure  RestartPolicy = "on-failure"
	RestartOnAbnormal RestartPolicy = "on-abnormal"
	RestartOnAbort    RestartPolicy = "on-abort"
	RestartOnWatchdog RestartPolicy = "on-watchdog"
)

// KillMode is the value of KillMode= (systemd.kill(5)). sockd has no
// cgroups; control-group means the service's process group.
type KillMode string

// The values KillMode= accepts.
const (
	KillControlGroup KillMode = "control-group"
	KillMixed        KillMode = "mixed"
	KillProcess      KillMode = "process"
)

// StdInput is the value of StandardInput=: "null" (the default) or
// "socket" (inetd style: the socket is fd 0).
type StdInput string

// The values StandardInput= accepts.
const (
	StdinNull   StdInput = "null"
	StdinSocket StdInput = "socket"
)

// StdOutput is the value of StandardOutput= or StandardError=: Kind is
// "inherit", "null", "journal" (sockd's log), "socket", "file", "append" or
// "truncate"; Path is set for the last three.
type StdOutput struct {
	Kind string
	Path string
}

// The kinds of StdOutput.
const (
	OutInherit  = "inherit"
	OutNull     = "null"
	OutJournal  = "journal"
	OutSocket   = "socket"
	OutFile     = "file"
	OutAppend   = "append"
	OutTruncate = "truncate"
	// OutJournalConsole and the kmsg kinds log as journal does, and
	// also write to sockd's stderr or the kernel log (/dev/kmsg).
	OutJournalConsole = "journal+console"
	OutKmsg           = "kmsg"
	OutKmsgConsole    = "kmsg+console"
)

// EnvironmentFile is one EnvironmentFile= entry; Optional is its "-" prefix
// (a missing file is not an error).
type EnvironmentFile struct {
	Path     string
	Optional bool
}

// Rlimit is a soft and hard resource limit; Infinity stands for unlimited.
type Rlimit struct {
	Soft, Hard uint64
}

// Infinity is the "infinity" value of a resource limit.
const Infinity = ^uint64(0)

// Command is one Exec*= command line, split into words.
type Command struct {
	// Path is the program to execute: an absolute path, or a bare name
	// looked up in sockd's fixed search path at validation time.
	Path string
	// Argv is the argument vector, Argv[0] included. With the "@" prefix
	// Argv[0] is the second word of the line, not Path.
	Argv []string
	// IgnoreFailure is the "-" prefix: a non-zero exit is not a failure.
	IgnoreFailure bool
	// NoEnvExpand is the ":" prefix: $VAR references are passed literally.
	NoEnvExpand bool
	// Privilege is the "+", "!" or "!!" prefix (systemd.service(5)).
	Privilege Privilege
}

// Privilege is an Exec*= command's privilege prefix.
type Privilege string

// The privilege prefixes.
const (
	PrivNormal    Privilege = ""
	PrivFull      Privilege = "+"  // no sandbox, no user switch, all capabilities
	PrivNoSetuid  Privilege = "!"  // the sandbox, but no User=/Group= switch
	PrivAmbientFB Privilege = "!!" // "!" only where the kernel lacks ambient capabilities
)
