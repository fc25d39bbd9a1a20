package handoff

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// checkKinds checks that every file's fd is the kind of file its
// metadata says.
func checkKinds(files []File) error {
	for i := range files {
		if err := checkKind(files[i].Kind, files[i].Fd); err != nil {
			return fmt.Errorf("handoff: file %s %s (%s): %w", files[i].Unit, files[i].Name, files[i].Addr, err)
		}
	}
	return nil
}

func checkKind(kind string, fd int) error {
	var typ int
	switch kind {
	case KindStream:
		typ = unix.SOCK_STREAM
	case KindDatagram:
		typ = unix.SOCK_DGRAM
	case KindSequentialPacket:
		typ = unix.SOCK_SEQPACKET
	case KindFIFO:
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return fmt.Errorf("kind %s but the fd is not a FIFO (mode %#o)", kind, st.Mode)
		}
		return nil
	default:
		return nil
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("kind %s: %w", kind, os.NewSyscallError("getsockopt SO_TYPE", err))
	}
	if got != typ {
		return fmt.Errorf("kind %s but the socket's type is %d, not %d", kind, got, typ)
	}
	return nil
}

// kindChecker checks the kinds of a set's chunks (checkKinds, a syscall
// for every fd) on a goroutine of its own, while Receive reads the next
// chunks: with more than one CPU, the checks cost the handoff little
// time. Receive, which starts it, calls wait on every path out.
type kindChecker struct {
	todo   chan []File // the chunks to check, in order
	done   chan error  // the first failure, or nil once todo is closed and checked
	closed bool        // todo is
	over   bool        // done was received, into result
	result error
}

// startKindChecker starts a checker for a set of chunks chunks; check
// never blocks.
func startKindChecker(chunks int) *kindChecker {
	c := &kindChecker{todo: make(chan []File, chunks), done: make(chan error, 1)}
	go func() {
		for files := range c.todo {
			if err := checkKinds(files); err != nil {
				c.done <- err
				return
			}
		}
		c.done <- nil
	}()
	return c
}

// check queues files, which Receive must not change until wait returns.
func (c *kindChecker) check(files []File) { c.todo <- files }

// failed returns the failure found so far, if any, without waiting.
func (c *kindChecker) failed() error {
	if !c.over {
		select {
		case c.result = <-c.done:
			c.over = true
		default:
		}
	}
	return c.result
}

// wait stops the checker once it has checked what it was given, and
// returns the first failure; it may be called again.
func (c *kindChecker) wait() error {
	if !c.closed {
		close(c.todo)
		c.closed = true
	}
	if !c.over {
		c.result, c.over = <-c.done, true
	}
	return c.result
}
