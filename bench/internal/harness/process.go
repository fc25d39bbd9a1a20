package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Proc is a child process whose stdout and stderr go to a log file.
type Proc struct {
	Cmd     *exec.Cmd
	Log     *LogWatch
	LogPath string
	Started time.Time // just before fork+exec
	exited  chan struct{}
	err     error
}

// StartProc starts argv with its output in logPath (created or
// truncated). Prefix argv with "prlimit --nofile=S:H --" and the like if
// needed.
func StartProc(logPath string, argv ...string) (*Proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	w, err := NewLogWatch(logPath)
	if err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, Log: w, LogPath: logPath, exited: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid returns the process's pid.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Alive returns an error once the process has exited.
func (p *Proc) Alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited: %v; log %s:\n%s", filepath.Base(p.Cmd.Path), p.err, p.LogPath, p.Log.tail(15))
	default:
		return nil
	}
}

// WaitLog waits (polling every interval) until count lines of the log
// contain s, and returns the time since Started.
func (p *Proc) WaitLog(s string, count int, interval, timeout time.Duration) (time.Duration, error) {
	err := p.Log.WaitFor(s, count, interval, timeout, p.Alive)
	return time.Since(p.Started), err
}

// Wait waits for the process to exit, for at most timeout, and then
// kills it.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s: killed after %s", filepath.Base(p.Cmd.Path), timeout)
	}
}

// Stop sends SIGTERM and waits up to timeout (then SIGKILL). It returns
// how long the process took to exit.
func (p *Proc) Stop(timeout time.Duration) (time.Duration, error) {
	t := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, err
	}
	err := p.Wait(timeout)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() && ee.ExitCode() == 0 {
		err = nil
	}
	p.Log.Close()
	return time.Since(t), err
}
