package spawn

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sockd/sockd/units"
)

// Dir is one exec directory a service gets (RuntimeDirectory= and its
// siblings, systemd.exec(5)): created with its parents before the
// service starts, given Mode, and owned by the service's user and group,
// except a ConfigurationDirectory=, which keeps its owner.
type Dir struct {
	Kind units.DirKind
	Path string // absolute
	Mode os.FileMode
}

// DirBase returns where the directories of kind k live: /run, /var/lib,
// /var/cache, /var/log and /etc for root, as for systemd's system
// manager; otherwise the places systemd --user uses ($XDG_RUNTIME_DIR,
// $XDG_STATE_HOME, $XDG_CACHE_HOME, $XDG_STATE_HOME/log,
// $XDG_CONFIG_HOME, with their XDG defaults under $HOME).
func DirBase(k units.DirKind) string {
	if os.Geteuid() == 0 {
		return [...]string{"/run", "/var/lib", "/var/cache", "/var/log", "/etc"}[k]
	}
	home, _ := os.UserHomeDir()
	xdg := func(v, def string) string {
		if p := os.Getenv(v); filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(home, def)
	}
	switch k {
	case units.DirRuntime:
		if p := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(os.TempDir(), "sockd-"+strconv.Itoa(os.Getuid()))
	case units.DirState:
		return xdg("XDG_STATE_HOME", ".local/state")
	case units.DirCache:
		return xdg("XDG_CACHE_HOME", ".cache")
	case units.DirLogs:
		return filepath.Join(xdg("XDG_STATE_HOME", ".local/state"), "log")
	}
	return xdg("XDG_CONFIG_HOME", ".config")
}

// DirsOf returns the exec directories of a service, in systemd's order.
func DirsOf(d *units.ExecDirs) []Dir {
	var dirs []Dir
	for k := units.DirKind(0); k < units.NumDirKinds; k++ {
		for _, p := range d.Paths[k] {
			dirs = append(dirs, Dir{Kind: k, Path: filepath.Join(DirBase(k), p), Mode: d.Modes[k]})
		}
	}
	return dirs
}

// DirEnv returns RUNTIME_DIRECTORY=… and its siblings for dirs: the
// absolute paths of each kind, joined by ":".
func DirEnv(dirs []Dir) []string {
	var byKind [units.NumDirKinds][]string
	for _, d := range dirs {
		byKind[d.Kind] = append(byKind[d.Kind], d.Path)
	}
	var env []string
	for k, paths := range byKind {
		if len(paths) > 0 {
			env = append(env, units.DirKind(k).EnvVar()+"="+strings.Join(paths, ":"))
		}
	}
	return env
}

// dirExitCodes are systemd's exit codes for a directory that could not be
// made, by kind.
var dirExitCodes = [units.NumDirKinds]int{ExitRuntimeDirectory, ExitStateDirectory, ExitCacheDirectory,
	ExitLogsDirectory, ExitConfigurationDirectory}

// makeDirs creates s.Dirs as systemd's setup_exec_directory does: parents
// 0755, the directory with its mode, then owned by the service's user
// and group (recursively, when the top's owner was someone else). It runs
// in sockd before the fork, for both spawn paths; a failure is an
// *ExecError with the kind's exit code (233/RUNTIME_DIRECTORY, …).
func (s *Spec) makeDirs() error {
	if len(s.Dirs) == 0 {
		return nil
	}
	uid, gid, err := ownerOf(s.User, s.Group)
	if err != nil {
		return nil // the child fails with 217/USER or 216/GROUP
	}
	if s.Sandbox != nil && s.Sandbox.DynamicUID > 0 { // DynamicUser=: the id held for this run
		uid, gid = s.Sandbox.DynamicUID, s.Sandbox.DynamicUID
	}
	for _, d := range s.Dirs {
		if err := makeDir(d, uid, gid); err != nil {
			var errno syscall.Errno
			errors.As(err, &errno)
			return &ExecError{Code: dirExitCodes[d.Kind], Errno: errno, Msg: err.Error()}
		}
	}
	return nil
}

func makeDir(d Dir, uid, gid int) error {
	if err := os.MkdirAll(filepath.Dir(d.Path), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(d.Path, d.Mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(d.Path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", d.Path)
	}
	if err := os.Chmod(d.Path, d.Mode); err != nil {
		return err
	}
	if d.Kind == units.DirConfiguration {
		return nil
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	return filepath.WalkDir(d.Path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// OwnerOf resolves User= and Group= to ids as the directories' owner
// (ownerOf): for the service's cgroup with Delegate=.
func OwnerOf(user, group string) (uid, gid int, err error) { return ownerOf(user, group) }

// ownerOf resolves the owner of the directories: User= and Group= (names
// or numbers, as a DynamicUser= resolved at start gives them), the
// user's group without Group=, and root without User=.
func ownerOf(userName, group string) (uid, gid int, err error) {
	if userName != "" {
		u, err := user.Lookup(userName)
		if n, nerr := strconv.Atoi(userName); err != nil && nerr == nil {
			u, err = user.LookupId(userName)
			if err != nil { // an id without an entry: its own group
				u, err = &user.User{Uid: userName, Gid: strconv.Itoa(n)}, nil
			}
		}
		if err != nil {
			return 0, 0, err
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if group != "" {
		if n, err := strconv.Atoi(group); err == nil {
			return uid, n, nil
		}
		g, err := user.LookupGroup(group)
		if err != nil {
			return 0, 0, err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// RemoveDirs removes dirs and what they hold: the runtime directories of
// a service that stopped (RuntimeDirectoryPreserve=).
func RemoveDirs(dirs []Dir) error {
	var errs []error
	for _, d := range dirs {
		if err := os.RemoveAll(d.Path); err != nil && !errors.Is(err, syscall.ENOTDIR) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
