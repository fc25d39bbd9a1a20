package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/upgrade"
)

// upgradeCheckTimeout bounds the new binary's check.
const upgradeCheckTimeout = 60 * time.Second

// checkBinary runs bin --upgrade-check (step 1) with the rehearsal of
// the state as its $SOCKD_UPGRADE_STATE, and returns what it reported,
// or why it cannot take over. The child executes the file bin has open,
// as the upgrade will.
func (d *Daemon) checkBinary(ctx context.Context, bin *upgrade.Binary, rehearsal []byte) (upgrade.CheckResult, error) {
	binary := bin.Path
	var res upgrade.CheckResult
	state, err := memfd(rehearsal)
	if err != nil {
		return res, fmt.Errorf("upgrade: %w", err)
	}
	defer state.Close()
	ctx, cancel := context.WithTimeout(ctx, upgradeCheckTimeout)
	defer cancel()
	args := []string{upgrade.CheckFlag, "--runtime-dir", d.cfg.RuntimeDir}
	for _, dir := range d.cfg.UnitDirs {
		args = append(args, "--units", dir)
	}
	if d.cfg.SystemdUnits {
		args = append(args, "--systemd-units")
	}
	cmd := exec.Command(bin.ExecPath(), args...)
	cmd.Args[0] = binary
	cmd.ExtraFiles = []*os.File{state} // fd 3
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, upgrade.StateEnv+"=") || strings.HasPrefix(kv, upgrade.PreviousEnv+"=") || strings.HasPrefix(kv, upgrade.RollbackEnv+"=")
	})
	cmd.Env = append(cmd.Env, upgrade.StateEnv+"=3")
	out, errOut, status, err := d.runChild(ctx, cmd)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return res, fmt.Errorf("upgrade: cannot execute %s from its open file (%w): give sockd's binary itself", binary, err)
		}
		return res, fmt.Errorf("upgrade: %s %s: %w", binary, upgrade.CheckFlag, err)
	}
	if status != "" {
		return res, fmt.Errorf("upgrade: %s %s failed (%s): %s", binary, upgrade.CheckFlag, status, lastLines(strings.TrimSpace(errOut), 20))
	}
	if err := json.Unmarshal(lastLine([]byte(out)), &res); err != nil || !res.OK {
		return res, fmt.Errorf("upgrade: %s does not speak sockd's upgrade protocol: no check result in its output %q", binary, lastLines(strings.TrimSpace(out), 3))
	}
	d.log.Info("new binary checked", "binary", binary, "version", res.Version, "units", res.Units, "adopted", res.Adopted, "new_listeners", res.New, "fdstore", res.Stored, "state_formats", res.StateFormats)
	return res, nil
}

// memfd returns a memfd (close-on-exec) holding data, at offset 0.
func memfd(data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("sockd-upgrade-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "upgrade-state")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// runChild runs cmd to its end (or until ctx is done: it is killed)
// and returns its output and, if it did not exit 0, how it ended. The
// reaper is the only caller of wait4: the child is registered with it,
// and cmd.Wait is never called.
func (d *Daemon) runChild(ctx context.Context, cmd *exec.Cmd) (out, errOut, status string, err error) {
	stdout, err := captureOutput(cmd, &cmd.Stdout)
	if err != nil {
		return "", "", "", err
	}
	stderr, err := captureOutput(cmd, &cmd.Stderr)
	if err != nil {
		stdout.abandon()
		return "", "", "", err
	}
	exitC, err := d.reaper.Start(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	stdout.started()
	stderr.started()
	if err != nil {
		stdout.abandon()
		stderr.abandon()
		return "", "", "", err
	}
	defer cmd.Process.Release()
	select {
	case st, ok := <-exitC:
		if !ok {
			stdout.abandon()
			stderr.abandon()
			return "", "", "", errors.New("sockd is stopping")
		}
		if !st.Wait.Exited() || st.Wait.ExitStatus() != 0 {
			status = st.String()
		}
	case <-ctx.Done():
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-exitC
		stdout.abandon()
		stderr.abandon()
		return "", "", "", fmt.Errorf("did not finish in %s", upgradeCheckTimeout)
	}
	return stdout.wait(ctx), stderr.wait(ctx), status, nil
}

// capturedOutput reads what a child writes to one pipe, up to 64 KiB.
type capturedOutput struct {
	r, w    *os.File
	buf     bytes.Buffer
	reading bool
	done    chan struct{}
}

// captureOutput gives cmd a pipe as *dst (cmd.Stdout or cmd.Stderr).
func captureOutput(cmd *exec.Cmd, dst *io.Writer) (*capturedOutput, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*dst = w
	return &capturedOutput{r: r, w: w, done: make(chan struct{})}, nil
}

// started closes the write end in sockd and starts reading.
func (c *capturedOutput) started() {
	c.w.Close()
	c.reading = true
	go func() {
		defer close(c.done)
		io.Copy(&c.buf, io.LimitReader(c.r, 64<<10))
	}()
}

// wait returns the output once the pipe is closed, or what was read when
// ctx is done.
func (c *capturedOutput) wait(ctx context.Context) string {
	select {
	case <-c.done:
	case <-ctx.Done():
		c.r.Close()
		<-c.done
	}
	c.r.Close()
	return c.buf.String()
}

// abandon closes the pipe and waits for the reader.
func (c *capturedOutput) abandon() {
	c.w.Close()
	c.r.Close()
	if c.reading {
		<-c.done
	}
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
