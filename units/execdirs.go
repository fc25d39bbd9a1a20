package units

import (
	"fmt"
	"os"
	"strings"
)

// DirKind is one of the five kinds of exec directories of systemd.exec(5)
// ("Paths": RuntimeDirectory= and its siblings).
type DirKind int

// The kinds of exec directories, in systemd's order.
const (
	DirRuntime DirKind = iota
	DirState
	DirCache
	DirLogs
	DirConfiguration
	NumDirKinds
)

// dirKindNames are the directive prefixes of each DirKind.
var dirKindNames = [NumDirKinds]string{"Runtime", "State", "Cache", "Logs", "Configuration"}

// String returns the directive prefix: "Runtime" for RuntimeDirectory=.
func (k DirKind) String() string { return dirKindNames[k] }

// EnvVar returns the variable that lists the directories of this kind
// for the service: RUNTIME_DIRECTORY, STATE_DIRECTORY, …
func (k DirKind) EnvVar() string { return strings.ToUpper(dirKindNames[k]) + "_DIRECTORY" }

// ExecDirs holds RuntimeDirectory=, StateDirectory=, CacheDirectory=,
// LogsDirectory=, ConfigurationDirectory= and their *Mode=, created (and
// chowned to the service's user) before the service starts.
type ExecDirs struct {
	Paths [NumDirKinds][]string    // relative paths, in order
	Modes [NumDirKinds]os.FileMode // *DirectoryMode=; default 0755
	// RuntimePreserve is RuntimeDirectoryPreserve=: "no" (the default)
	// removes the runtime directories when the service stops, "restart"
	// keeps them across a restart, "yes" keeps them.
	RuntimePreserve string
}

// DefaultDirMode is the default of every *DirectoryMode=.
const DefaultDirMode os.FileMode = 0o755

// checkRelativeDir checks one entry of a *Directory= list: a relative,
// normalised path without "." or ".." components, as systemd's
// path_is_normalized and !path_is_absolute require.
func checkRelativeDir(s string) error {
	if _, _, ok := strings.Cut(s, ":"); ok {
		return fmt.Errorf("%q: the DIR:SYMLINK form is not supported by sockd", s)
	}
	if strings.HasPrefix(s, "/") {
		return fmt.Errorf("path %q must be relative (to /run, /var/lib, /var/cache, /var/log or /etc)", s)
	}
	for _, c := range strings.Split(s, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("path %q is not normalized", s)
		}
	}
	return nil
}
