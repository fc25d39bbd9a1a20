package spawn

import (
	"bufio"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// MaxLogLine bounds one log record of a StdioLog stream: a longer line is
// split into several records.
const MaxLogLine = 8192

// fdSet holds the parent's ends of the pipes made for one spawn; those
// not taken with keep are closed after the fork.
type fdSet struct{ fds []int }

// pipe makes a close-on-exec pipe whose read end is non-blocking (the
// write end, which the service gets, stays blocking).
func (s *fdSet) pipe() (r, w int, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	s.fds = append(s.fds, p[0], p[1])
	if err := syscall.SetNonblock(p[0], true); err != nil {
		return -1, -1, os.NewSyscallError("fcntl", err)
	}
	return p[0], p[1], nil
}

// keep takes fd out of the set and wraps it in an *os.File (which uses
// the poller, fd being non-blocking).
func (s *fdSet) keep(fd int) *os.File {
	for i, x := range s.fds {
		if x == fd {
			s.fds = append(s.fds[:i], s.fds[i+1:]...)
			break
		}
	}
	return os.NewFile(uintptr(fd), "pipe")
}

func (s *fdSet) closeAll() {
	for _, fd := range s.fds {
		syscall.Close(fd)
	}
	s.fds = nil
}

// devNull is sockd's one fd on /dev/null, shared by all spawns.
var devNull = sync.OnceValues(func() (int, error) {
	fd, err := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("open /dev/null", err)
	}
	return fd, nil
})

type logStream struct {
	fd     int // read end
	stream string
}

// stdio returns the parent fds that become the child's 0, 1 and 2 and the
// pipes to copy into the log. File kinds get /dev/null here; the child
// replaces it with the opened file.
func (s *Spec) stdio(fds *fdSet) ([]uintptr, []logStream, error) {
	files := make([]uintptr, 3, 3+len(s.Files)+1)
	var logs []logStream
	names := [3]string{"stdin", "stdout", "stderr"}
	for i, st := range [3]Stdio{s.Stdin, s.Stdout, s.Stderr} {
		switch st.Kind {
		case StdioInherit:
			files[i] = files[i-1]
		case StdioFD:
			files[i] = uintptr(st.FD)
		case StdioLog:
			r, w, err := fds.pipe()
			if err != nil {
				return nil, nil, err
			}
			files[i] = uintptr(w)
			logs = append(logs, logStream{r, names[i]})
		default: // null and the file kinds
			fd, err := devNull()
			if err != nil {
				return nil, nil, err
			}
			files[i] = uintptr(fd)
		}
	}
	return files, logs, nil
}

// stdioFlags are the open(2) flags of a file stream i (0 for stdin).
func stdioFlags(i int, kind StdioKind) int {
	flags := syscall.O_WRONLY | syscall.O_CREAT | syscall.O_CLOEXEC | syscall.O_NOCTTY
	switch {
	case kind == StdioFile && i == 0:
		flags = syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NOCTTY
	case kind == StdioAppend:
		flags |= syscall.O_APPEND
	case kind == StdioTruncate:
		flags |= syscall.O_TRUNC
	}
	return flags
}

// startLogCopiers copies each log pipe into log and closes p's outDone
// when all of them reached end of file. p keeps the pipes for ExportLogs.
func (p *Process) startLogCopiers(logs []logStream, fds *fdSet, log *slog.Logger, unit string) {
	files := make([]logFile, len(logs))
	for i, l := range logs {
		files[i] = logFile{stream: l.stream, f: fds.keep(l.fd)}
	}
	p.copyLogs(files, log, unit)
}

// logFile is the read end of a log pipe, which a copier goroutine owns.
type logFile struct {
	stream string
	f      *os.File
}

// copyLogs starts a copier per pipe; outDone is closed when all of them
// reached end of file.
func (p *Process) copyLogs(files []logFile, log *slog.Logger, unit string) {
	p.logs = files
	if len(files) == 0 {
		close(p.outDone)
		return
	}
	var wg sync.WaitGroup
	for _, l := range files {
		wg.Go(func() { copyLines(l.f, log.With("unit", unit, "stream", l.stream)) })
	}
	go func() {
		wg.Wait()
		close(p.outDone)
	}()
}

// copyLines writes one Info record per line read from f, splitting lines
// longer than MaxLogLine, until end of file; then it closes f.
func copyLines(f *os.File, log *slog.Logger) {
	defer f.Close()
	br := bufio.NewReaderSize(f, MaxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
			if n > 1 && line[n-2] == '\r' {
				line = line[:n-2]
			}
		} else if len(line) == 0 && err != nil {
			return
		}
		log.Info(string(line))
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}
