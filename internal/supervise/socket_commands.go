package supervise

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/units"
)

// RunSocketCommands runs the [Socket] Exec*= commands of cfg named by
// directive ("ExecStartPre", "ExecStartPost", "ExecStopPre" or
// "ExecStopPost"), one after another, each within TimeoutSec=. They run
// as sockd's user (a socket unit has no User= in sockd), with systemd's
// base environment and their output in sockd's log, tagged with the
// socket unit. A command that fails stops the sequence with an error,
// unless it has the "-" prefix. A command still running at the timeout,
// or when ctx ends, is killed with its process group.
func RunSocketCommands(ctx context.Context, deps Deps, cfg *units.Unit, directive string) error {
	cmds := socketCommands(&cfg.Socket, directive)
	unit := cfg.Name + ".socket"
	env := baseEnv(&units.Service{})
	for _, cmd := range cmds {
		exit, err := runSocketCommand(ctx, deps, unit, cmd, env, cfg.Socket.Helpers.Timeout)
		if err == nil && !exit.Clean() {
			err = fmt.Errorf("%s %s: %s", directive, filepath.Base(cmd.Path), exit)
		}
		if err != nil && !cmd.IgnoreFailure {
			return fmt.Errorf("unit %s: %w", unit, err)
		}
		if err != nil {
			deps.Log.Warn("socket command failed, ignored (\"-\" prefix)", "unit", unit, "err", err)
		}
	}
	return nil
}

// socketCommands returns the commands of one [Socket] Exec*= directive.
func socketCommands(s *units.Socket, directive string) []units.Command {
	switch directive {
	case "ExecStartPre":
		return s.Helpers.ExecStartPre
	case "ExecStartPost":
		return s.Helpers.ExecStartPost
	case "ExecStopPre":
		return s.Helpers.ExecStopPre
	case "ExecStopPost":
		return s.Helpers.ExecStopPost
	}
	panic("supervise: not a [Socket] command directive: " + directive)
}

func runSocketCommand(ctx context.Context, deps Deps, unit string, cmd units.Command, env []string, timeout time.Duration) (Exit, error) {
	path, err := units.LookPath(cmd.Path)
	if err != nil {
		return Exit{}, err
	}
	argv := cmd.Argv
	if !cmd.NoEnvExpand {
		if argv, err = spawn.ExpandArgv(argv, env); err != nil {
			return Exit{}, fmt.Errorf("%s: %w", cmd.Path, err)
		}
	}
	p, err := spawn.Spawn(deps.Reaper, &spawn.Spec{
		Unit: unit, Log: deps.Log, Path: path, Argv: argv, Env: env,
		Stdin:  spawn.Stdio{Kind: spawn.StdioNull},
		Stdout: spawn.Stdio{Kind: spawn.StdioLog},
		Stderr: spawn.Stdio{Kind: spawn.StdioLog},
	})
	if err != nil {
		return Exit{}, fmt.Errorf("%s: %w", cmd.Path, err)
	}
	return waitCommand(ctx, p, cmd, timeout) // start.go
}

// runStopCommands runs ExecStopPre= or ExecStopPost= as the unit's
// listeners close; a failure is logged: the socket stops anyway.
func (u *Unit) runStopCommands(directive string) {
	cfg := u.Config()
	if len(socketCommands(&cfg.Socket, directive)) == 0 {
		return
	}
	if err := RunSocketCommands(context.Background(), u.deps, cfg, directive); err != nil {
		u.logger().Warn("socket stop command failed", "err", err)
	}
}
