package spawn

import (
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
)

// LogPipe is the read end of a pipe that carries a service's standard
// output or error into sockd's log, as it crosses a re-execution of
// sockd (see Process.ExportLogs and Adopt).
type LogPipe struct {
	Stream string `json:"stream"` // "stdout" or "stderr"
	FD     int    `json:"fd"`
}

// ExportLogs returns inheritable (not close-on-exec) duplicates of the
// read ends of p's log pipes, for a new sockd image to keep copying them:
// without them the service would get EPIPE on its next write. A pipe
// whose copier already reached end of file is left out. The caller owns
// the returned fds; the copiers keep running on the originals.
func (p *Process) ExportLogs() ([]LogPipe, error) {
	var out []LogPipe
	for _, l := range p.logs {
		rc, err := l.f.SyscallConn()
		if err != nil {
			continue
		}
		var dup int
		var derr error
		if err := rc.Control(func(fd uintptr) {
			dup, derr = unix.FcntlInt(fd, unix.F_DUPFD, 3)
		}); err != nil {
			continue // closed: the service's end is gone too
		}
		if derr != nil {
			CloseLogPipes(out)
			return nil, fmt.Errorf("spawn: exporting %s pipe of pid %d: %w", l.stream, p.Pid, os.NewSyscallError("fcntl F_DUPFD", derr))
		}
		out = append(out, LogPipe{Stream: l.stream, FD: dup})
	}
	return out, nil
}

// CloseLogPipes closes the fds of pipes.
func CloseLogPipes(pipes []LogPipe) {
	for _, l := range pipes {
		unix.Close(l.FD)
	}
}

// Adopt returns the Process for pid, a service that a previous image of
// sockd started: exit is its channel from reaper.Adopt, and logs are the
// pipes ExportLogs exported, which Adopt marks close-on-exec and copies
// into log from now on. The program is long exec'ed: WaitExec returns
// nil at once.
func Adopt(pid int, exit <-chan reaper.Status, logs []LogPipe, log *slog.Logger, unit string) *Process {
	p := &Process{Pid: pid, Exit: exit, execDone: make(chan struct{}), outDone: make(chan struct{})}
	close(p.execDone)
	files := make([]logFile, 0, len(logs))
	for _, l := range logs {
		unix.CloseOnExec(l.FD)
		files = append(files, logFile{stream: l.Stream, f: os.NewFile(uintptr(l.FD), unit+" "+l.Stream)})
	}
	if log == nil {
		log = slog.Default()
	}
	p.copyLogs(files, log, unit)
	return p
}
