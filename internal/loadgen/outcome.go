package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// class is a kind of failure.
type class int

const (
	refused  class = iota // connect(2) refused: ECONNREFUSED
	reset                 // the connection broke: ECONNRESET, EPIPE, an early EOF
	timedOut              // the request's Timeout passed
	wrong                 // status not 200, or a body without Want
	other                 // anything else
	numClasses
)

var classNames = [numClasses]string{"refused", "reset", "timeout", "wrong", "other"}

func (c class) String() string { return classNames[c] }

// maxMessages is how many error messages of each class are kept.
const maxMessages = 5

// wrongAnswer is the error for an answer that came but was not the one
// wanted.
type wrongAnswer struct{ msg string }

func (e *wrongAnswer) Error() string { return "wrong answer: " + e.msg }

// classify returns the class of err, an error of a request whose context
// was not canceled by the caller.
func classify(err error) class {
	var ne net.Error
	var wa *wrongAnswer
	switch {
	case errors.As(err, &wa):
		return wrong
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return timedOut
	case errors.Is(err, unix.ECONNREFUSED):
		return refused
	case errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE), errors.Is(err, unix.ECONNABORTED),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		// net/http's unexported error for a reused connection the
		// server closed, when the request cannot be retried.
		strings.Contains(err.Error(), "server closed idle connection"):
		return reset
	}
	return other
}

// tally counts the outcomes of one worker's requests.
type tally struct {
	ok, canceled      int
	newConnRequests   int
	keepAliveRequests int
	failed            [numClasses]int
	messages          [numClasses][]string
	samples           []sample
	dropped           int
}

// fail counts a failure of class c of a request started at offset at.
func (t *tally) fail(c class, at time.Duration, err error) {
	t.failed[c]++
	if len(t.messages[c]) < maxMessages {
		t.messages[c] = append(t.messages[c], fmt.Sprintf("at %v: %v", at.Round(time.Millisecond), err))
	}
}
