package packaging

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is a sockd (or what runs it) started by a test, with its log.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    strings.Builder
	lines  chan string // every log line, until the process exits
}

// startDaemon starts argv and reads its standard error as sockd's log.
func startDaemon(t *testing.T, argv ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{}), lines: make(chan string, 1000)}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go d.read(stderr)
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.exited
		if t.Failed() {
			t.Logf("log of %s:\n%s", argv[0], d.logText())
		}
	})
	return d
}

func (d *daemon) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		d.mu.Lock()
		d.log.WriteString(sc.Text() + "\n")
		d.mu.Unlock()
		select {
		case d.lines <- sc.Text():
		default:
		}
	}
	d.cmd.Wait()
	close(d.lines)
	close(d.exited)
}

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// waitFor waits for a log line containing want.
func (d *daemon) waitFor(want string, timeout time.Duration) {
	d.t.Helper()
	waitLine(d.t, d.lines, want, timeout)
}

// stop sends sig and returns the exit code and how long the exit took.
func (d *daemon) stop(pid int, sig syscall.Signal, timeout time.Duration) (int, time.Duration) {
	d.t.Helper()
	start := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		d.t.Fatal(err)
	}
	select {
	case <-d.exited:
		return d.cmd.ProcessState.ExitCode(), time.Since(start)
	case <-time.After(timeout):
		d.t.Fatalf("no exit within %v of %v", timeout, sig)
		return -1, 0
	}
}
