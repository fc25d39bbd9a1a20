package handoff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkHandoff10000 measures one whole handoff of 10,000 listening
// sockets, the size of sockd's scale benchmark, from this process to
// another, as an upgrade hands every listener to the next sockd. The
// other process is this test binary run as a client (see benchClient):
// at each iteration it dials this process's Server over a "unixpacket"
// socket in a temporary directory and calls Exchange, as sockd's
// Takeover does; both ends check each other's credentials, ServeConn
// sends the 10,000 fds in chunks of MaxFDsPerMessage (in the compact
// encoding, as the request is of version 1.2) and closes each chunk's
// once it is sent, and the iteration ends once ServeConn has returned
// and the client has said that Exchange returned. The goal is under
// 50 ms a handoff (the ms/handoff metric).
//
// The client then, untimed, checks the kind of every file it received
// (CheckKinds, which Listeners does and Exchange does not: sockd checks
// more than that itself before adopting a listener); ms/check is how
// long that took, so Listeners would take about ms/handoff + ms/check.
// Then it closes what it received: it holds the last reference to each
// listener by then, so that close tears the 10,000 sockets down, which
// a real upgrade does not do; ms/close is how long it took.
//
// The first handoff, untimed, goes to the client as it started, a fresh
// process whose fd table holds 64 fds: ms/first is how long it took,
// kept out of ms/handoff. Receive grows the table once for the set
// (growFDTable), and as the process has more than one thread the kernel
// waits for an RCU grace period to do so (expand_fdtable), 6–10 ms or
// more. An outside process taking a unit's listeners pays that; sockd's
// upgrade check does not, as it is forked by a sockd holding every
// listener and inherits the size of its fd table.
//
// Answer hands over the listeners themselves rather than dups of them
// (sockd's Answer returns dups): ServeConn closes what it sent, so this
// side needs only 10,000 fds, and the other side as many, where one
// process doing both ends with dups would need 30,000 (RLIMIT_NOFILE's
// hard limit is often 20,000 or less, and raising it takes
// CAP_SYS_RESOURCE). The listeners are made again, untimed, before each
// iteration; ServeConn's close of them, timed, is the close of sockd's
// dups, as the client still holds them. They are a mix like sockd's
// real listeners, mostly TCP (see listenerSet): 9,600 TCP listeners and
// 200 UDP sockets on loopback addresses 127.77.x.y, one port for all,
// and 200 Unix stream sockets in the abstract namespace. The kernel's
// cost of passing an fd depends on its family: the garbage collector of
// in-flight fds accounts for Unix sockets only, so a set of Unix sockets
// alone would not measure what sockd hands over.
//
//	go test -run '^$' -bench Handoff -benchtime 20x ./handoff/
func BenchmarkHandoff10000(b *testing.B) {
	const n = 10000
	raiseNofile(b, n+256)
	before := openFDs(b)
	rig := startRig(b)
	set := &listenerSet{n: n}
	files, err := set.make()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var first time.Duration
	firstDone := rig.handoff(b, files, func() { first = time.Since(start) })
	childFDs := firstDone.fds
	var checking, closing time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		files, err := set.make()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		done := rig.handoff(b, files, b.StopTimer)
		if done.fds != childFDs {
			b.Fatalf("the client has %d fds open after closing what it received; %d after the first handoff", done.fds, childFDs)
		}
		checking += done.checking
		closing += done.closing
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/handoff")
	b.ReportMetric(float64(checking.Nanoseconds())/float64(b.N)/1e6, "ms/check")
	b.ReportMetric(float64(closing.Nanoseconds())/float64(b.N)/1e6, "ms/close")
	b.ReportMetric(float64(first.Nanoseconds())/1e6, "ms/first")
	rig.stop(b)
	checkNoNewFDs(b, before)
}

// TestHandoffToChild runs the benchmark's handoff twice with 1,000
// listeners, and checks that no fd is left open on either side.
func TestHandoffToChild(t *testing.T) {
	const n = 1000
	raiseNofile(t, n+256)
	before := openFDs(t)
	rig := startRig(t)
	var childFDs []int
	for range 2 {
		files, err := listenAbstract(n)
		if err != nil {
			t.Fatal(err)
		}
		childFDs = append(childFDs, rig.handoff(t, files, nil).fds)
	}
	rig.stop(t)
	checkNoNewFDs(t, before)
	if childFDs[0] != childFDs[1] {
		t.Errorf("the client had %v fds open after each handoff; want the same count", childFDs)
	}
}

// TestHandoffManyListeners hands over dups of 1,000 listeners within
// this process, as sockd's Answer does, and checks that what arrived are
// the listeners sent and that no fd is left open afterwards.
func TestHandoffManyListeners(t *testing.T) {
	const n = 1000
	raiseNofile(t, 3*n+256)
	files, err := listenAbstract(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { CloseAll(files) })
	path, served := serveOne(t, &Server{Answer: dupAnswer(files)})
	before := openFDs(t)
	got, err := Listeners(context.Background(), path, "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
	defer CloseAll(got)
	if len(got) != n {
		t.Fatalf("got %d files; want %d", len(got), n)
	}
	if extra := len(openFDs(t)) - len(before); extra != n {
		t.Errorf("%d more fds open after the handoff; want %d", extra, n)
	}
	for i, f := range got {
		sa, err := unix.Getsockname(f.Fd)
		if err != nil {
			t.Fatalf("file %d: getsockname: %v", i, err)
		}
		if addr := sa.(*unix.SockaddrUnix).Name; addr != files[i].Addr || f.Addr != files[i].Addr || f.Name != files[i].Name {
			t.Errorf("file %d: %s %s bound to %q; want %s %s", i, f.Name, f.Addr, addr, files[i].Name, files[i].Addr)
		}
		if !isCloexec(t, f.Fd) {
			t.Errorf("file %d: fd %d is not close-on-exec", i, f.Fd)
		}
	}
	CloseAll(got)
	checkNoNewFDs(t, before)
}

// rig is a Server socket and a client process that takes the listeners
// from it each time it reads a line.
type rig struct {
	ln      *net.UnixListener
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies *bufio.Scanner
	done    chan struct{} // closed once cmd has exited

	closeOnce sync.Once
	closeErr  error
}

// startRig listens on a "unixpacket" socket in a temporary directory and
// starts the client.
func startRig(tb testing.TB) *rig {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "handoff.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		tb.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		ln.Close()
		tb.Fatal(err)
	}
	r := &rig{ln: ln, cmd: exec.Command(self, "-test.run=^$"), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), "HANDOFF_BENCH_CHILD=client", "HANDOFF_BENCH_SOCK="+path)
	r.cmd.Stderr = os.Stderr
	r.stdin, _ = r.cmd.StdinPipe()
	stdout, _ := r.cmd.StdoutPipe()
	r.replies = bufio.NewScanner(stdout)
	if err := r.cmd.Start(); err != nil {
		ln.Close()
		tb.Fatalf("starting the client: %v", err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	tb.Cleanup(func() { r.close() })
	return r
}

// handedOff is what the client reports after a handoff: how long its
// CheckKinds and its close of what it received took, and how many fds
// it has open then.
type handedOff struct {
	checking, closing time.Duration
	fds               int
}

// handoff serves files (and closes them) to the client, calls received,
// if not nil, once the client has them, and returns what the client
// reports once it has checked and closed them.
func (r *rig) handoff(tb testing.TB, files []File, received func()) handedOff {
	tb.Helper()
	answered := false
	s := &Server{Answer: func(unix.Ucred, Request) ([]File, error) { answered = true; return files, nil }}
	defer func() {
		if !answered {
			CloseAll(files)
		}
	}()
	if _, err := io.WriteString(r.stdin, "go\n"); err != nil {
		tb.Fatalf("asking the client: %v", err)
	}
	r.ln.SetDeadline(time.Now().Add(time.Minute))
	c, err := r.ln.AcceptUnix()
	if err != nil {
		tb.Fatalf("accepting the client: %v", err)
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	err = s.ServeConn(c)
	c.Close()
	if err != nil {
		tb.Fatalf("ServeConn: %v", err)
	}
	var got int
	var done handedOff
	r.reply(tb, "received %d", &got)
	if received != nil {
		received()
	}
	r.reply(tb, "closed %d %d %d", &done.checking, &done.closing, &done.fds)
	if got != len(files) {
		tb.Fatalf("the client received %d files; want %d", got, len(files))
	}
	return done
}

// reply reads the client's next line, of the given format.
func (r *rig) reply(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if !r.replies.Scan() {
		tb.Fatalf("the client exited without answering: %v", r.replies.Err())
	}
	if _, err := fmt.Sscanf(r.replies.Text(), format, args...); err != nil {
		tb.Fatalf("the client answered %q; want %q", r.replies.Text(), format)
	}
}

// stop ends the client and waits for it, failing the test unless it
// exits cleanly.
func (r *rig) stop(tb testing.TB) {
	tb.Helper()
	if err := r.close(); err != nil {
		tb.Errorf("client: %v", err)
	}
}

// close closes the client's input, waits up to 10 seconds for it to
// exit (then kills it), and closes the listener; it may be called again
// and returns the first call's error.
func (r *rig) close() error {
	r.closeOnce.Do(func() {
		r.stdin.Close()
		r.ln.Close()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
			r.closeErr = errors.New("did not exit within 10s of the end of its input: killed")
			return
		}
		if !r.cmd.ProcessState.Success() {
			r.closeErr = fmt.Errorf("exited with %v", r.cmd.ProcessState)
		}
	})
	return r.closeErr
}

// init runs the test binary as the benchmark's client when
// HANDOFF_BENCH_CHILD says so; TestMain, in peer_test.go, has the other
// children.
func init() {
	if os.Getenv("HANDOFF_BENCH_CHILD") == "client" {
		os.Exit(benchClient(os.Getenv("HANDOFF_BENCH_SOCK")))
	}
}

// benchClient takes the listeners of "web" from the server at path with
// Exchange each time it reads a line, and answers "received <files>";
// then it checks their kinds and closes them, and answers "closed
// <nanoseconds checking took> <nanoseconds closing took> <fds open>".
// It returns at the end of its input, or 1 after a failed handoff.
func benchClient(path string) int {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		files, err := exchangeAt(path, Request{Op: OpListeners, Unit: "web"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchmark client:", err)
			return 1
		}
		fmt.Printf("received %d\n", len(files))
		start := time.Now()
		err = CheckKinds(files)
		checking := time.Since(start)
		start = time.Now()
		CloseAll(files)
		closing := time.Since(start)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchmark client:", err)
			return 1
		}
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchmark client:", err)
			return 1
		}
		fmt.Printf("closed %d %d %d\n", checking.Nanoseconds(), closing.Nanoseconds(), len(ents))
	}
	return 0
}

// exchangeAt dials the server at path and exchanges req with it, within
// a minute, as sockd's Takeover does.
func exchangeAt(path string, req Request) ([]File, error) {
	c, err := net.DialTimeout("unixpacket", path, time.Minute)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	return Exchange(c.(*net.UnixConn), req)
}

// benchPorts are the ports the benchmark's listeners may take, all
// below the ephemeral range (net.ipv4.ip_local_port_range, 32768 and up
// by default) and outside the ranges of bench/upgrade (10000 up) and
// bench/run.sh (20000–29999); the first that is free on every address
// is used.
var benchPorts = []int{31731, 31773, 31797}

// listenerSet makes sets of the benchmark's listeners: n sockets of unit
// "web", as sockd's listeners are mostly TCP. Of every 50, 48 are TCP
// listeners and one a bound UDP socket, on 127.77.x.y (x.y from 0.1
// up, one address each), all on one port, so that no ephemeral port is
// taken; the 50th is a Unix stream socket listening in the abstract
// namespace. Only loopback addresses are used.
type listenerSet struct {
	n    int
	port int // fixed on the first make
}

// make binds a new set; on error it closes what it made.
func (ls *listenerSet) make() ([]File, error) {
	if ls.port != 0 {
		return listenMix(ls.n, ls.port)
	}
	var err error
	for _, port := range benchPorts {
		var files []File
		if files, err = listenMix(ls.n, port); err == nil {
			ls.port = port
			return files, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			break
		}
	}
	return nil, err
}

// listenMix makes the n listeners of a listenerSet on port; on error it
// closes those made.
func listenMix(n, port int) ([]File, error) {
	files := make([]File, 0, n)
	prefix := "@sockd-handoff-bench-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range n {
		f, err := listenOne(i, port, prefix)
		if err != nil {
			CloseAll(files)
			return nil, fmt.Errorf("listener %d: %w", i, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// listenOne makes listener i of a set.
func listenOne(i, port int, unixPrefix string) (File, error) {
	f := File{Unit: "web", Name: "l" + strconv.Itoa(i), Kind: KindStream, Fd: -1}
	domain, typ := unix.AF_INET, unix.SOCK_STREAM
	var sa unix.Sockaddr
	switch i % 50 {
	case 49:
		domain = unix.AF_UNIX
		f.Addr = unixPrefix + "-" + strconv.Itoa(i)
		sa = &unix.SockaddrUnix{Name: f.Addr}
	case 24:
		typ, f.Kind = unix.SOCK_DGRAM, KindDatagram
		fallthrough
	default:
		ip := [4]byte{127, 77, byte((i + 1) >> 8), byte(i + 1)}
		sa = &unix.SockaddrInet4{Addr: ip, Port: port}
		f.Addr = net.JoinHostPort(net.IP(ip[:]).String(), strconv.Itoa(port))
	}
	f.Fingerprint = f.Kind + " " + f.Addr + " backlog=128"
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return f, os.NewSyscallError("socket", err)
	}
	if domain == unix.AF_INET {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	if err == nil && typ == unix.SOCK_STREAM {
		err = unix.Listen(fd, 128)
	}
	if err != nil {
		unix.Close(fd)
		return f, fmt.Errorf("%s %s: %w", f.Kind, f.Addr, err)
	}
	f.Fd = fd
	return f, nil
}

// listenAbstract makes n Unix stream sockets listening in the abstract
// namespace, as the files of unit "web"; on error it closes those made.
func listenAbstract(n int) ([]File, error) {
	files := make([]File, 0, n)
	prefix := "@sockd-handoff-bench-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range n {
		addr := fmt.Sprintf("%s-%d", prefix, i)
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			CloseAll(files)
			return nil, fmt.Errorf("listener %d: %w", i, os.NewSyscallError("socket", err))
		}
		files = append(files, File{Unit: "web", Name: fmt.Sprintf("l%d", i), Kind: KindStream, Addr: addr,
			Fingerprint: "stream " + addr + " backlog=128", Fd: fd})
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
			CloseAll(files)
			return nil, fmt.Errorf("listener %d: bind %s: %w", i, addr, err)
		}
		if err := unix.Listen(fd, 128); err != nil {
			CloseAll(files)
			return nil, fmt.Errorf("listener %d: listen %s: %w", i, addr, err)
		}
	}
	return files, nil
}

// raiseNofile makes room for need fds, raising RLIMIT_NOFILE's soft limit
// (and its hard limit, which takes CAP_SYS_RESOURCE) for the test and
// putting it back after; it skips the test when it cannot.
func raiseNofile(tb testing.TB, need uint64) {
	tb.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		tb.Fatalf("getrlimit RLIMIT_NOFILE: %v", err)
	}
	if old.Cur >= need {
		return
	}
	lim := unix.Rlimit{Cur: need, Max: max(old.Max, need)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		tb.Skipf("needs %d fds; RLIMIT_NOFILE is %d (hard %d) and cannot be raised: %v (raise the hard limit with ulimit -Hn, or run with CAP_SYS_RESOURCE)",
			need, old.Cur, old.Max, err)
	}
	tb.Cleanup(func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
			tb.Errorf("restoring RLIMIT_NOFILE %d:%d: %v", old.Cur, old.Max, err)
		}
	})
}
