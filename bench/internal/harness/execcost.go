package harness

import (
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// Command is a command line to time.
type Command struct {
	Name string
	Argv []string // Argv[0] is the path, unless Path is set
	Path string   // if set, exec this with Argv as the argument vector
	Env  []string // nil: this process's environment
}

// ShimCommand runs sockd's spawn shim on its own, the way Spawn starts
// it (argv[0] "sockd-spawn", the spec in SOCKD_SPAWN_SHIM: no fds, umask
// 022, status fd 99, which is not open and only written on failure), to
// exec prog. It depends on internal/spawn's private protocol: if that
// changes, the row fails with exit status 202.
func ShimCommand(name, sockd, prog string) Command {
	return Command{Name: name, Path: sockd, Argv: []string{"sockd-spawn", prog, prog},
		Env: []string{"SOCKD_SPAWN_SHIM=n=0&s=99&u=22", "PATH=/usr/bin:/bin"}}
}

// ExecCosts runs every command warmup+n times, taking turns, and returns
// the summary of the n kept fork+exec+wait times of each. Exit statuses
// other than 0 are fine, except 202 (a shim that failed).
func ExecCosts(cmds []Command, warmup, n int) ([]Summary, error) {
	times := make([][]time.Duration, len(cmds))
	for i := range warmup + n {
		for j, c := range cmds {
			path := c.Path
			if path == "" {
				path = c.Argv[0]
			}
			cmd := &exec.Cmd{Path: path, Args: c.Argv, Env: c.Env}
			t := time.Now()
			err := cmd.Run()
			d := time.Since(t)
			var ee *exec.ExitError
			if err != nil && (!errors.As(err, &ee) || ee.ExitCode() == 202) {
				return nil, fmt.Errorf("%s: %v", c.Name, err)
			}
			if i >= warmup {
				times[j] = append(times[j], d)
			}
		}
	}
	out := make([]Summary, len(cmds))
	for j := range cmds {
		out[j] = Summarize(times[j])
	}
	return out, nil
}
