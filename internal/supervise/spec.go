package supervise

import (
	"fmt"
	"os"
	"os/user"

	"github.com/sockd/sockd/internal/sandbox"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// baseEnv is the environment every service starts from, as systemd's
// build_environment(): PATH, and the user's identity when User= is set.
// sockd's own environment is not passed on, except LANG/TZ-style locale
// settings.
func baseEnv(svc *units.Service) []string {
	env := []string{"PATH=" + units.SearchPath}
	for _, k := range []string{"LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, spawn.DirEnv(spawn.DirsOf(&svc.Dirs))...)
	if svc.User == "" {
		return env
	}
	u, err := user.Lookup(svc.User)
	if err != nil {
		u, err = user.LookupId(svc.User)
	}
	if err != nil {
		return env // the shim reports 217/USER
	}
	return append(env, "USER="+u.Username, "LOGNAME="+u.Username, "HOME="+u.HomeDir, "SHELL=/bin/sh")
}

// serviceEnv returns the service's environment: the base, then
// Environment=, then EnvironmentFile= (which overrides it, as in
// systemd), then extra (NOTIFY_SOCKET, MAINPID, …).
func (u *Unit) serviceEnv(svc *units.Service, extra ...string) ([]string, error) {
	files, err := spawn.LoadEnvironmentFiles(svc.EnvironmentFiles, u.log)
	if err != nil {
		return nil, err
	}
	return spawn.MergeEnv(baseEnv(svc), svc.Environment, files, extra), nil
}

// commandSpec turns an Exec*= command into a spawn.Spec without fds:
// what ExecStartPre=, ExecStartPost= and ExecStop= get.
func (u *Unit) commandSpec(svc *units.Service, cmd units.Command, env []string) (*spawn.Spec, error) {
	return u.commandSpecKind(svc, cmd, env, sandbox.ControlCommand)
}

func (u *Unit) commandSpecKind(svc *units.Service, cmd units.Command, env []string, kind sandbox.Kind) (*spawn.Spec, error) {
	path, err := units.LookPath(cmd.Path)
	if err != nil {
		return nil, err
	}
	plan, err := sandboxPlan(svc, cmd, kind)
	if err != nil {
		return nil, err
	}
	argv := cmd.Argv
	if !cmd.NoEnvExpand {
		if argv, err = spawn.ExpandArgv(argv, env); err != nil {
			return nil, fmt.Errorf("%s: %w", cmd.Path, err)
		}
	}
	s := &spawn.Spec{
		Unit:                svc.Name,
		Log:                 u.deps.Log,
		Path:                path,
		Argv:                argv,
		Env:                 env,
		Stdin:               spawn.Stdio{Kind: spawn.StdioNull},
		Stdout:              outputOf(svc.StandardOutput, -1),
		Stderr:              stderrOf(svc, -1),
		Dir:                 svc.WorkingDirectory,
		DirOptional:         svc.WorkingDirectoryOptional,
		User:                svc.User,
		Group:               svc.Group,
		SupplementaryGroups: svc.SupplementaryGroups,
		LimitNOFILE:         svc.LimitNOFILE,
		NoNewPrivileges:     svc.NoNewPrivileges,
		Sandbox:             plan,
		Attrs:               spawn.AttrsOf(&svc.Process),
		Dirs:                spawn.DirsOf(&svc.Dirs),
		Cgroups:             u.cgroupProcs(),
	}
	umask := svc.UMask
	s.UMask = &umask
	s.Log = u.outputLog(svc, path)
	if plan != nil && plan.DynamicUID > 0 {
		s.User, s.Group = "", "" // the plan's dynamic user; SupplementaryGroups= still apply
	}
	if s.Stdout.Kind == spawn.StdioFD { // StandardOutput=socket without a socket
		s.Stdout = spawn.Stdio{Kind: spawn.StdioLog}
	}
	if s.Stderr.Kind == spawn.StdioFD {
		s.Stderr = spawn.Stdio{Kind: spawn.StdioInherit}
	}
	return s, nil
}

// mainSpec is commandSpec plus the fds of the main process: the
// listeners as 3, 4, … with their names, or, with StandardInput=socket,
// the socket as stdin (and stdout/stderr per StandardOutput=), and then no
// LISTEN_* at all, as systemd does.
func (u *Unit) mainSpec(svc *units.Service, env []string, fds []int, names []string) (*spawn.Spec, error) {
	if len(svc.ExecStart) != 1 {
		return nil, fmt.Errorf("service %s has %d ExecStart= commands", svc.Name, len(svc.ExecStart))
	}
	s, err := u.commandSpecKind(svc, svc.ExecStart[0], env, sandbox.MainCommand)
	if err != nil {
		return nil, err
	}
	if svc.StandardInput == units.StdinSocket && len(fds) == 1 {
		s.Stdin = spawn.Stdio{Kind: spawn.StdioFD, FD: fds[0]}
		s.Stdout = outputOf(svc.StandardOutput, fds[0])
		s.Stderr = stderrOf(svc, fds[0])
		return s, nil
	}
	s.Files, s.Names = fds, names
	return s, nil
}

// stderrOf maps StandardError=: "inherit" (the default) of
// StandardOutput=journal is a log stream of its own, so that sockd's log
// labels it stream=stderr; otherwise as outputOf.
func stderrOf(svc *units.Service, sock int) spawn.Stdio {
	if svc.StandardError.Kind == units.OutInherit && logKind(svc.StandardOutput.Kind) {
		return spawn.Stdio{Kind: spawn.StdioLog}
	}
	return outputOf(svc.StandardError, sock)
}

// outputOf maps StandardOutput=/StandardError= to a spawn.Stdio; sock is
// the connection or listener for "socket".
func outputOf(o units.StdOutput, sock int) spawn.Stdio {
	switch o.Kind {
	case units.OutNull:
		return spawn.Stdio{Kind: spawn.StdioNull}
	case units.OutInherit:
		return spawn.Stdio{Kind: spawn.StdioInherit}
	case units.OutSocket:
		return spawn.Stdio{Kind: spawn.StdioFD, FD: sock}
	case units.OutFile:
		return spawn.Stdio{Kind: spawn.StdioFile, Path: o.Path}
	case units.OutAppend:
		return spawn.Stdio{Kind: spawn.StdioAppend, Path: o.Path}
	case units.OutTruncate:
		return spawn.Stdio{Kind: spawn.StdioTruncate, Path: o.Path}
	}
	// journal, journal+console, kmsg, kmsg+console: outputLog routes it.
	return spawn.Stdio{Kind: spawn.StdioLog}
}
