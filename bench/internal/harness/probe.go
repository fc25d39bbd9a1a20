package harness

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Sample is one activation seen from the client.
type Sample struct {
	Connect   int64 // CLOCK_MONOTONIC ns just before connect(2)
	FirstByte int64 // CLOCK_MONOTONIC ns when the first read(2) returned data
	// From the service's line (tinysvc): its pid, and CLOCK_MONOTONIC
	// when its main started and when accept returned.
	Pid            int
	Main, Accepted int64
}

// Latency is connect to first response byte.
func (s Sample) Latency() time.Duration { return time.Duration(s.FirstByte - s.Connect) }

// ToMain is connect to the service's main: the manager's reaction, the
// exec(s) and the service's runtime start-up.
func (s Sample) ToMain() time.Duration { return time.Duration(s.Main - s.Connect) }

// Serve is the service's main to the first byte at the client.
func (s Sample) Serve() time.Duration { return time.Duration(s.FirstByte - s.Main) }

// Probe connects to 127.0.0.1:port with blocking system calls on a locked
// thread (no netpoller hand-off in the timed path), reads the service's
// line and closes. timeout bounds the wait for data.
func Probe(port int, timeout time.Duration) (Sample, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Sample{}, err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return Sample{}, err
	}
	var s Sample
	buf := make([]byte, 256)
	s.Connect = Mono()
	if err := connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return s, fmt.Errorf("connect 127.0.0.1:%d: %w", port, err)
	}
	n, err := read(fd, buf)
	s.FirstByte = Mono()
	if err != nil || n <= 0 {
		return s, fmt.Errorf("read from 127.0.0.1:%d: n=%d err=%v", port, n, err)
	}
	line := buf[:n]
	for !strings.Contains(string(line), "\n") && len(line) < len(buf) {
		m, err := read(fd, buf[len(line):])
		if err != nil || m <= 0 {
			break
		}
		line = buf[:len(line)+m]
	}
	if err := parseLine(strings.TrimSpace(string(line)), &s); err != nil {
		return s, err
	}
	return s, nil
}

// connect is a blocking connect that goes on when a signal interrupts
// it: with SO_RCVTIMEO set, the kernel does not restart a socket call
// after a signal handler, and Go's runtime signals its threads (SIGURG
// preemption) at any time. The connection proceeds in the background
// after EINTR; connect waits for it and returns its result.
func connect(fd int, sa unix.Sockaddr) error {
	err := unix.Connect(fd, sa)
	if err != unix.EINTR {
		return err
	}
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return err
		}
	}
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if soErr != 0 {
		return unix.Errno(soErr)
	}
	return nil
}

// read is unix.Read, retried after EINTR (see connect).
func read(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// parseLine parses "tinysvc pid=PID main=NS accepted=NS".
func parseLine(line string, s *Sample) error {
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "tinysvc" {
		return fmt.Errorf("unexpected answer %q", line)
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("unexpected answer %q", line)
		}
		switch k {
		case "pid":
			s.Pid = int(n)
		case "main":
			s.Main = n
		case "accepted":
			s.Accepted = n
		}
	}
	return nil
}
