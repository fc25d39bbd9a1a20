package tests

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"golang.org/x/sys/unix"
)

// want describes one fd the service must receive.
type want struct {
	fifo     bool
	domain   int
	typ      int
	sockname string // or the FIFO's path
}

// leakMarker is in sockd's environment; a service must not see it.
const leakMarker = "SOCKD_E2E_MUST_NOT_LEAK"

// checkReport checks what the probe saw against the fds it should have
// been given, with names as LISTEN_FDNAMES.
func checkReport(t *testing.T, r Report, names []string, wants []want) {
	t.Helper()
	if r.ListenPID != strconv.Itoa(r.Pid) {
		t.Errorf("LISTEN_PID=%q, the service's pid is %d", r.ListenPID, r.Pid)
	}
	if r.ListenFDs != strconv.Itoa(len(wants)) {
		t.Errorf("LISTEN_FDS=%q, want %d", r.ListenFDs, len(wants))
	}
	if got, w := r.ListenFDNames, strings.Join(names, ":"); got != w {
		t.Errorf("LISTEN_FDNAMES=%q, want %q", got, w)
	}
	// LISTEN_PIDFDID, where pidfds have inode numbers, identifies the
	// service's own pidfd.
	if r.PidfdID != 0 && r.ListenPIDFDID != strconv.FormatUint(r.PidfdID, 10) {
		t.Errorf("LISTEN_PIDFDID=%q, the service's pidfd is inode %d", r.ListenPIDFDID, r.PidfdID)
	}
	if r.NotifySet {
		t.Errorf("a Type=simple service got NOTIFY_SOCKET=%q", r.NotifySocket)
	}
	for _, kv := range r.Env {
		if strings.HasPrefix(kv, leakMarker+"=") || strings.HasPrefix(kv, "SOCKD_SPAWN_SHIM=") || strings.HasPrefix(kv, "GORACE=") {
			t.Errorf("sockd's environment leaked into the service: %s", kv)
		}
	}
	if len(r.Passed) != len(wants) {
		t.Fatalf("the probe inspected %d passed fds, want %d", len(r.Passed), len(wants))
	}
	for i, w := range wants {
		in := r.Passed[i]
		if in.FD != 3+i {
			t.Errorf("passed fd #%d is %d, want %d", i, in.FD, 3+i)
		}
		if w.fifo {
			if in.FileType != "fifo" || in.Target != w.sockname {
				t.Errorf("fd %d: %s %q, want the FIFO %q", in.FD, in.FileType, in.Target, w.sockname)
			}
			// activation opens FIFOs O_RDWR|O_NONBLOCK; like systemd
			// (NonBlocking=no), sockd passes them blocking.
			if in.Nonblock {
				t.Errorf("fd %d (FIFO): O_NONBLOCK is set, want it clear (NonBlocking=no)", in.FD)
			}
			continue
		}
		if in.FileType != "socket" {
			t.Errorf("fd %d is a %s, want a socket", in.FD, in.FileType)
			continue
		}
		if in.Domain != w.domain || in.Type != w.typ {
			t.Errorf("fd %d: domain %d type %d, want domain %d type %d", in.FD, in.Domain, in.Type, w.domain, w.typ)
		}
		wantAccept := 0
		if w.typ == unix.SOCK_STREAM || w.typ == unix.SOCK_SEQPACKET {
			wantAccept = 1
		}
		if in.AcceptConn != wantAccept {
			t.Errorf("fd %d: SO_ACCEPTCONN=%d, want %d", in.FD, in.AcceptConn, wantAccept)
		}
		if in.Sockname != w.sockname {
			t.Errorf("fd %d: bound to %q, want %q", in.FD, in.Sockname, w.sockname)
		}
		// Sockets are passed blocking (NonBlocking=no, the default), even
		// when a previous instance made them non-blocking (Go does).
		if in.Nonblock {
			t.Errorf("fd %d: O_NONBLOCK is set on a socket, want it clear", in.FD)
		}
	}
	checkFDs(t, r, len(wants))
}

// checkFDs checks that the probe had nothing open but 0, 1, 2, the n
// passed fds and the fd it read /proc/self/fd with: sockd must leak
// nothing else (spawn's status pipe, log pipes of other services, its own
// epoll or eventfd, the notify socket, …). The probe lists its fds as the
// first statement of main, with raw system calls, before anything opens
// its netpoller (epoll fd, eventfd), and it is built with
// containermaxprocs=0, so that its runtime does not keep the cgroup CPU
// limit files open either: by then the probe's own Go runtime has no fd
// open, and no other fd is tolerated.
func checkFDs(t *testing.T, r Report, n int) {
	t.Helper()
	if r.FDListingError != "" {
		t.Fatalf("the probe could not list its fds: %s", r.FDListingError)
	}
	selfFD := fmt.Sprintf("/proc/%d/fd", r.Pid)
	seen := map[int]bool{}
	for _, f := range r.FDs {
		seen[f.FD] = true
		switch {
		case f.FD == 0:
			if f.Target != "/dev/null" {
				t.Errorf("fd 0 is %q, want /dev/null (StandardInput=null)", f.Target)
			}
		case f.FD == 1 || f.FD == 2:
			// StandardOutput=journal: a pipe into sockd's log.
			if !strings.HasPrefix(f.Target, "pipe:[") {
				t.Errorf("fd %d is %q, want a pipe to sockd's log", f.FD, f.Target)
			}
		case f.FD >= 3 && f.FD < 3+n:
		case f.FD == r.ListingFD && f.Target == selfFD:
		default:
			t.Errorf("the service inherited fd %d (%s), which sockd should not have passed", f.FD, f.Target)
		}
	}
	for fd := range 3 + n {
		if !seen[fd] {
			t.Errorf("fd %d is not open in the service", fd)
		}
	}
}

var answerRE = regexp.MustCompile(`^probe (\d+) (\S*)\n$`)

// checkAnswer checks a stream answer "probe PID NAME\n" and returns PID.
func checkAnswer(t *testing.T, got string, name string) int {
	t.Helper()
	m := answerRE.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("answer %q, want \"probe PID %s\\n\"", got, name)
	}
	if m[2] != name {
		t.Errorf("answer %q names fd %q, want %q", got, m[2], name)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// startIdle starts sockd and checks that no service runs yet.
func startIdle(t *testing.T, e *env) *sockd {
	t.Helper()
	s := e.start()
	if rs := e.reports(); len(rs) != 0 {
		t.Fatalf("a service started before any traffic: %d report(s)", len(rs))
	}
	if pids := serviceProcs(e.reportDir); len(pids) != 0 {
		t.Fatalf("service processes %v run before any traffic", pids)
	}
	return s
}

// onlyReport waits for the first report and checks that the reporting
// process is the one that answered and is still running.
func onlyReport(t *testing.T, e *env, answeredBy int) Report {
	t.Helper()
	rs := e.waitReports(1, 10*time.Second)
	r := rs[0]
	if len(rs) != 1 {
		t.Errorf("%d services started for one client, want 1", len(rs))
	}
	if answeredBy != 0 && r.Pid != answeredBy {
		t.Errorf("answered by pid %d, but the service that reported is %d", answeredBy, r.Pid)
	}
	return r
}

func TestActivation(t *testing.T) {
	type tc struct {
		name   string
		socket func(e *env) ([]string, []want)
		// client makes the first contact and checks the answer; it
		// returns the pid that answered, or 0 if the answer names none.
		client func(t *testing.T, e *env) int
		names  []string // LISTEN_FDNAMES; nil means "NAME.socket"
	}
	port := map[string]int{}
	cases := []tc{
		{
			name: "tcp4",
			socket: func(e *env) ([]string, []want) {
				p := freePort(t)
				port["tcp4"] = p
				return []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p)},
					[]want{{domain: unix.AF_INET, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("127.0.0.1:%d", p)}}
			},
			client: func(t *testing.T, e *env) int {
				got, err := ask("tcp4", fmt.Sprintf("127.0.0.1:%d", port["tcp4"]), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkAnswer(t, got, "tcp4.socket")
			},
		},
		{
			name: "tcp6",
			socket: func(e *env) ([]string, []want) {
				p := freePort(t)
				port["tcp6"] = p
				return []string{fmt.Sprintf("ListenStream=[::1]:%d", p)},
					[]want{{domain: unix.AF_INET6, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("[::1]:%d", p)}}
			},
			client: func(t *testing.T, e *env) int {
				got, err := ask("tcp6", fmt.Sprintf("[::1]:%d", port["tcp6"]), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkAnswer(t, got, "tcp6.socket")
			},
		},
		{
			// A bare port is [::]:PORT, dual stack: an IPv4 client gets in.
			name: "bareport",
			socket: func(e *env) ([]string, []want) {
				p := freePort(t)
				port["bareport"] = p
				return []string{fmt.Sprintf("ListenStream=%d", p)},
					[]want{{domain: unix.AF_INET6, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("[::]:%d", p)}}
			},
			client: func(t *testing.T, e *env) int {
				if b, _ := os.ReadFile("/proc/sys/net/ipv6/bindv6only"); strings.TrimSpace(string(b)) == "1" {
					t.Skip("net.ipv6.bindv6only=1: a bare port is IPv6 only here")
				}
				got, err := ask("tcp4", fmt.Sprintf("127.0.0.1:%d", port["bareport"]), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkAnswer(t, got, "bareport.socket")
			},
		},
		{
			name: "udp",
			socket: func(e *env) ([]string, []want) {
				p := freePort(t)
				port["udp"] = p
				return []string{fmt.Sprintf("ListenDatagram=127.0.0.1:%d", p)},
					[]want{{domain: unix.AF_INET, typ: unix.SOCK_DGRAM, sockname: fmt.Sprintf("127.0.0.1:%d", p)}}
			},
			client: func(t *testing.T, e *env) int {
				got, err := askDatagram("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port["udp"]}, "hello udp", 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkEcho(t, got, "hello udp")
			},
		},
		{
			name: "unix-stream",
			socket: func(e *env) ([]string, []want) {
				p := e.path("sock/stream.sock")
				return []string{"ListenStream=" + p}, []want{{domain: unix.AF_UNIX, typ: unix.SOCK_STREAM, sockname: p}}
			},
			client: func(t *testing.T, e *env) int {
				got, err := ask("unix", e.path("sock/stream.sock"), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkAnswer(t, got, "unix-stream.socket")
			},
		},
		{
			name: "unix-datagram",
			socket: func(e *env) ([]string, []want) {
				p := e.path("sock/dgram.sock")
				return []string{"ListenDatagram=" + p}, []want{{domain: unix.AF_UNIX, typ: unix.SOCK_DGRAM, sockname: p}}
			},
			client: func(t *testing.T, e *env) int {
				got, err := askDatagram("unixgram", &net.UnixAddr{Net: "unixgram", Name: e.path("client.sock")},
					&net.UnixAddr{Net: "unixgram", Name: e.path("sock/dgram.sock")}, "hello unixgram", 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkEcho(t, got, "hello unixgram")
			},
		},
		{
			name: "unix-seqpacket",
			socket: func(e *env) ([]string, []want) {
				p := e.path("sock/seq.sock")
				return []string{"ListenSequentialPacket=" + p}, []want{{domain: unix.AF_UNIX, typ: unix.SOCK_SEQPACKET, sockname: p}}
			},
			client: func(t *testing.T, e *env) int {
				got, err := askSeqpacket(e.path("sock/seq.sock"), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkAnswer(t, got, "unix-seqpacket.socket")
			},
		},
		{
			name: "abstract",
			socket: func(e *env) ([]string, []want) {
				name := "@sockd-e2e-" + randName()
				e.writeFile("abstract-name", name)
				return []string{"ListenStream=" + name}, []want{{domain: unix.AF_UNIX, typ: unix.SOCK_STREAM, sockname: name}}
			},
			client: func(t *testing.T, e *env) int {
				name, _ := os.ReadFile(filepath.Join(e.unitDir, "abstract-name"))
				got, err := ask("unix", string(name), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return checkAnswer(t, got, "abstract.socket")
			},
		},
		{
			name: "fifo",
			socket: func(e *env) ([]string, []want) {
				p := e.path("sock/fifo")
				return []string{"ListenFIFO=" + p}, []want{{fifo: true, sockname: p}}
			},
			client: func(t *testing.T, e *env) int {
				return fifoRoundTrip(t, e, e.path("sock/fifo"), "hello fifo")
			},
		},
		{
			// Several listeners of different kinds: the fds come in
			// declaration order, all with FileDescriptorName=.
			name:  "multi",
			names: []string{"several", "several", "several", "several", "several"},
			socket: func(e *env) ([]string, []want) {
				p1, p2 := freePort(t), freePort(t)
				port["multi-tcp"], port["multi-udp"] = p1, p2
				abs := "@sockd-e2e-multi-" + randName()
				e.writeFile("abstract-name", abs)
				return []string{
						fmt.Sprintf("ListenStream=127.0.0.1:%d", p1),
						fmt.Sprintf("ListenDatagram=[::1]:%d", p2),
						"ListenSequentialPacket=" + abs,
						"ListenFIFO=" + e.path("sock/fifo"),
						"ListenStream=" + e.path("sock/stream.sock"),
						"FileDescriptorName=several",
					}, []want{
						{domain: unix.AF_INET, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("127.0.0.1:%d", p1)},
						{domain: unix.AF_INET6, typ: unix.SOCK_DGRAM, sockname: fmt.Sprintf("[::1]:%d", p2)},
						{domain: unix.AF_UNIX, typ: unix.SOCK_SEQPACKET, sockname: abs},
						{fifo: true, sockname: e.path("sock/fifo")},
						{domain: unix.AF_UNIX, typ: unix.SOCK_STREAM, sockname: e.path("sock/stream.sock")},
					}
			},
			client: func(t *testing.T, e *env) int {
				got, err := ask("tcp4", fmt.Sprintf("127.0.0.1:%d", port["multi-tcp"]), 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				pid := checkAnswer(t, got, "several")
				// The one service serves every other listener too.
				got, err = askDatagram("udp6", &net.UDPAddr{IP: net.IPv6loopback}, &net.UDPAddr{IP: net.IPv6loopback, Port: port["multi-udp"]}, "hello udp6", 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if p := checkEcho(t, got, "hello udp6"); p != pid {
					t.Errorf("datagram answered by pid %d, stream by %d", p, pid)
				}
				abs, _ := os.ReadFile(filepath.Join(e.unitDir, "abstract-name"))
				if got, err = askSeqpacket(string(abs), 10*time.Second); err != nil {
					t.Fatal(err)
				}
				if p := checkAnswer(t, got, "several"); p != pid {
					t.Errorf("seqpacket answered by pid %d, stream by %d", p, pid)
				}
				if got, err = ask("unix", e.path("sock/stream.sock"), 10*time.Second); err != nil {
					t.Fatal(err)
				}
				if p := checkAnswer(t, got, "several"); p != pid {
					t.Errorf("unix stream answered by pid %d, tcp by %d", p, pid)
				}
				if p := fifoRoundTrip(t, e, e.path("sock/fifo"), "hello multi"); p != pid {
					t.Errorf("FIFO answered by pid %d, tcp by %d", p, pid)
				}
				return pid
			},
		},
	}
	for _, c := range cases {
		e := newEnv(t)
		sock, wants := c.socket(e)
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e.t = t
			e.unit(c.name, sock, []string{e.probe("-fifo-out", e.path("fifo-answer"))})
			startIdle(t, e)
			pid := c.client(t, e)
			r := onlyReport(t, e, pid)
			names := c.names
			if names == nil {
				names = []string{c.name + ".socket"}
			}
			checkReport(t, r, names, wants)
			if !alive(r.Pid) {
				t.Errorf("the service (pid %d) is not running after the first client", r.Pid)
			}
		})
	}
}

var echoRE = regexp.MustCompile(`^probe (\d+): (.*)$`)

// checkEcho checks a datagram answer "probe PID: MSG" and returns PID.
func checkEcho(t *testing.T, got, msg string) int {
	t.Helper()
	m := echoRE.FindStringSubmatch(got)
	if m == nil || m[2] != msg {
		t.Fatalf("answer %q, want \"probe PID: %s\"", got, msg)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// fifoRoundTrip writes a line into the FIFO and waits until the probe
// wrote its answer to fifo-answer; it returns the answering pid.
func fifoRoundTrip(t *testing.T, e *env, fifo, line string) int {
	t.Helper()
	// sockd holds the FIFO open for reading, so this open does not block.
	f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var got string
	ok := waitFor(10*time.Second, func() bool {
		b, err := os.ReadFile(e.path("fifo-answer"))
		got = string(b)
		return err == nil && strings.HasSuffix(got, ": "+line+"\n")
	})
	if !ok {
		t.Fatalf("no answer to the FIFO line %q within 10s (fifo-answer holds %q)", line, got)
	}
	return checkEcho(t, strings.TrimSuffix(got, "\n"), line)
}

// TestPythonEcho runs examples/python-echo/echo.py, which takes its socket
// with socket.fromfd, under sockd and talks to it.
func TestPythonEcho(t *testing.T) {
	t.Parallel()
	python := "/usr/bin/python3"
	_, err := os.Stat(python)
	testenv.Require(t, err == nil, fmt.Sprintf("%s: %v", python, err))
	e := newEnv(t)
	p := freePort(t)
	script := filepath.Join(repoRoot, "examples/python-echo/echo.py")
	e.unit("pyecho", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p)}, []string{
		// The extra argument, which echo.py ignores, marks the process as
		// this test's for the leftover check of the cleanup.
		"ExecStart=" + python + " " + script + " " + e.reportDir,
		"Environment=IDLE_EXIT=30 PYTHONUNBUFFERED=1",
	})
	s := startIdle(t, e)
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", p), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	for _, line := range []string{"hello python\n", "second line\n"} {
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(line))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("reading the echo of %q: %v", line, err)
		}
		if string(buf) != line {
			t.Errorf("echo.py answered %q, want %q", buf, line)
		}
	}
	// echo.py logs the name it got from LISTEN_FDNAMES and its address.
	s.waitLog(5*time.Second, match("msg", fmt.Sprintf("~echo.py: serving pyecho.socket on ('127.0.0.1', %d)", p), "stream", "stdout"))
}
