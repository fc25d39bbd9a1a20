package harness

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// LogWatch follows a log file that a child process writes (its stderr is
// redirected to the file, not to a pipe, so that the harness does not
// wake up and compete for the CPU while a sample is being timed). It
// counts the lines that contain given strings.
type LogWatch struct {
	path    string
	f       *os.File
	partial []byte
	lines   []string // every complete line so far
	buf     []byte
}

// NewLogWatch opens path for following; the file must exist.
func NewLogWatch(path string) (*LogWatch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &LogWatch{path: path, f: f, buf: make([]byte, 64<<10)}, nil
}

// Close closes the file.
func (w *LogWatch) Close() error { return w.f.Close() }

// poll reads what was appended since the last call.
func (w *LogWatch) poll() {
	for {
		n, err := w.f.Read(w.buf)
		if n > 0 {
			data := append(w.partial, w.buf[:n]...)
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				w.lines = append(w.lines, string(data[:i]))
				data = data[i+1:]
			}
			w.partial = append([]byte(nil), data...)
		}
		if err == io.EOF || n == 0 || err != nil {
			return
		}
	}
}

// Count returns how many lines seen so far contain s.
func (w *LogWatch) Count(s string) int {
	w.poll()
	n := 0
	for _, l := range w.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// Lines returns every complete line read so far.
func (w *LogWatch) Lines() []string {
	w.poll()
	return w.lines
}

// WaitFor polls every interval until count lines contain s, for at most
// timeout. alive, if not nil, is checked between polls and ends the wait
// with its error.
func (w *LogWatch) WaitFor(s string, count int, interval, timeout time.Duration, alive func() error) error {
	deadline := time.Now().Add(timeout)
	seen := 0 // lines already scanned
	n := 0
	for {
		w.poll()
		for _, l := range w.lines[seen:] {
			if strings.Contains(l, s) {
				n++
			}
		}
		seen = len(w.lines)
		if n >= count {
			return nil
		}
		if alive != nil {
			if err := alive(); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d line(s) with %q after %s, want %d; last lines:\n%s", w.path, n, s, timeout, count, w.tail(10))
		}
		time.Sleep(interval)
	}
}

func (w *LogWatch) tail(n int) string {
	ls := w.lines
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
