package notify

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestPrefixNamesAreUnguessable: with Config.Prefix, every receiver gets
// a name of its own with at least 128 random bits after the prefix, so
// that another user cannot bind it first (issue 16, finding 4).
func TestPrefixNamesAreUnguessable(t *testing.T) {
	prefix := fmt.Sprintf("@sockd-notify-test-%d/web.service.", os.Getpid())
	seen := map[string]bool{}
	for range 8 {
		r, err := Listen(Config{Prefix: prefix, Handle: func(Message) {}, Log: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		name, ok := strings.CutPrefix(r.Addr(), prefix)
		if !ok || len(name) < 26 || seen[name] { // 26 base32 characters: 130 bits
			t.Fatalf("name %q: want %q followed by at least 26 fresh random characters", r.Addr(), prefix)
		}
		seen[name] = true
		send(t, r.Addr(), "READY=1") // bound where Addr says
	}
}

// TestPrefixUnbindable: a prefix that cannot be bound is an error that
// names it, not a retry loop.
func TestPrefixUnbindable(t *testing.T) {
	_, err := Listen(Config{Prefix: "/nonexistent-dir/x.", Handle: func(Message) {}, Log: discardLogger()})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent-dir/x.") {
		t.Fatalf("Listen under a missing directory: %v; want an error naming the path", err)
	}
}

// TestRefusalsAreRateLimited: a flood of refused datagrams logs one
// line per reason and sender, not one per datagram (issue 16, finding 7:
// 51.5k datagrams gave 6.9 MB of log).
func TestRefusalsAreRateLimited(t *testing.T) {
	var logBuf testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	const flood = 3000
	var seen atomic.Int32 // refuses the flood, accepts the datagram after it
	c := make(chan Message, 1)
	r, err := Listen(Config{Path: socketPath(t), Log: log, Handle: func(m Message) { c <- m },
		Allow: func(pid int) bool { return seen.Add(1) > flood }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0) // blocking: waits while the queue is full
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	for range flood {
		if err := unix.Sendto(s, []byte("READY=1"), 0, &unix.SockaddrUnix{Name: r.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	send(t, r.Addr(), "STATUS=after the flood")
	if m := next(t, c); m.Status == nil {
		t.Fatalf("got %+v after the flood", m)
	}
	lines := strings.Count(logBuf.String(), "\n")
	if lines != 1 {
		t.Fatalf("%d refused datagrams logged %d lines; want 1 (one per reason, sender and interval):\n%.2000s", flood, lines, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "sender not allowed") || !strings.Contains(logBuf.String(), fmt.Sprintf("uid=%d", os.Getuid())) {
		t.Errorf("the refusal line does not say why and who:\n%s", logBuf.String())
	}
}

// TestPrefixDrawsAgainWhenTaken: a name someone already bound
// (EADDRINUSE) is not an error: Listen draws another.
func TestPrefixDrawsAgainWhenTaken(t *testing.T) {
	prefix := fmt.Sprintf("@sockd-notify-test-%d/taken.", os.Getpid())
	squat, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(squat)
	if err := unix.Bind(squat, &unix.SockaddrUnix{Name: prefix + "FIRST"}); err != nil {
		t.Fatal(err)
	}
	draws := []string{"FIRST", "FIRST", "SECOND"}
	old := randomName
	randomName = func() string { d := draws[0]; draws = draws[1:]; return d }
	defer func() { randomName = old }()
	r, err := Listen(Config{Prefix: prefix, Handle: func(Message) {}, Log: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Addr() != prefix+"SECOND" {
		t.Errorf("bound %q; want the third draw, %q", r.Addr(), prefix+"SECOND")
	}
}
