package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"golang.org/x/sys/unix"
)

// commonOptions are set on every unit of TestSocketOptions, whatever its
// family: the ones that do not apply must be skipped, not failed.
var commonOptions = []string{
	"ReusePort=yes",
	"FreeBind=yes",
	"KeepAlive=yes",
	"KeepAliveTimeSec=70",
	"KeepAliveIntervalSec=11",
	"KeepAliveProbes=4",
	"NoDelay=yes",
	// The kernel stores TCP_DEFER_ACCEPT as a number of SYN-ACK
	// retransmissions and reads it back as their total timeout: 3s is
	// 1s+2s, which reads back as 3 exactly (5 would read back as 7).
	"DeferAcceptSec=3",
	"Priority=5", // after IPTOS=, which also sets SO_PRIORITY: 5 must win
	"ReceiveBuffer=300K",
	"SendBuffer=200K",
	"Mark=42",
	"Broadcast=yes",
	"PassCredentials=yes",
	"PassPacketInfo=yes",
}

// opts is the expected value of each option, by name; a missing name is
// not checked.
type opts map[string]int

func checkOpts(t *testing.T, what string, in Info, want opts) {
	t.Helper()
	if in.Domain != unix.AF_UNIX && in.Opts["SO_PASSCRED"] != 0 {
		t.Errorf("%s: SO_PASSCRED=%d on a non-Unix socket, want it unset", what, in.Opts["SO_PASSCRED"])
	}
	for name, w := range want {
		got, ok := in.Opts[name]
		if !ok {
			t.Errorf("%s: %s not read by the probe (error %q)", what, name, in.OptErrors[name])
			continue
		}
		if got != w {
			t.Errorf("%s: %s=%d, want %d", what, name, got, w)
		}
	}
}

func merge(ms ...opts) opts {
	out := opts{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// The expected values of commonOptions. ReceiveBuffer= and SendBuffer=
// read back doubled: the kernel accounts for its overhead (socket(7)).
var (
	wantGeneric = opts{"SO_PRIORITY": 5, "SO_MARK": 42, "SO_RCVBUF": 2 * 300 * 1024, "SO_SNDBUF": 2 * 200 * 1024}
	// PassCredentials= is skipped on IP sockets (SO_PASSCRED there is
	// EOPNOTSUPP on recent kernels, 0 on older ones: see checkOpts).
	wantIP   = opts{"SO_REUSEADDR": 1, "SO_REUSEPORT": 1, "SO_BROADCAST": 1, "IP_TRANSPARENT": 0}
	wantTCP  = opts{"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 70, "TCP_KEEPINTVL": 11, "TCP_KEEPCNT": 4, "TCP_NODELAY": 1, "TCP_DEFER_ACCEPT": 3}
	wantUDP  = opts{"SO_KEEPALIVE": 0}
	wantIPv4 = opts{"IP_FREEBIND": 1, "IP_TOS": 0x10, "IP_TTL": 33, "IP_PKTINFO": 1}
	// On IPv6, IPTOS= and IPTTL= set both the IPv6 and the IPv4 variants
	// (the latter apply to IPv4 traffic on a dual-stack socket).
	wantIPv6 = opts{"IPV6_V6ONLY": 1, "IPV6_FREEBIND": 1, "IPV6_TRANSPARENT": 0, "IPV6_TCLASS": 40, "IP_TOS": 40,
		"IPV6_UNICAST_HOPS": 44, "IP_TTL": 44, "IPV6_RECVPKTINFO": 1}
	// Unix sockets: the IP and TCP options are skipped.
	wantUnix = opts{"SO_PASSCRED": 1, "SO_REUSEADDR": 0, "SO_REUSEPORT": 0, "SO_BROADCAST": 0, "SO_KEEPALIVE": 0}
)

// backlogOf returns the backlog of a listening socket as ss(8) shows it
// (Send-Q of a LISTEN socket); without ss the test is skipped (failed
// under CI=true).
func backlogOf(t *testing.T, args ...string) int {
	t.Helper()
	testenv.RequireProgram(t, "ss")
	out, err := exec.Command("ss", append([]string{"-Hn"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ss %v: %v", args, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 {
		t.Fatalf("ss %v: %d lines, want 1:\n%s", args, len(lines), out)
	}
	f := strings.Fields(lines[0])
	// TCP: State Recv-Q Send-Q …; Unix (-x): Netid State Recv-Q Send-Q …
	i := 2
	if f[0] == "u_str" || f[0] == "u_seq" {
		i = 3
	}
	n, err := strconv.Atoi(f[i])
	if err != nil {
		t.Fatalf("ss %v: %q: %v", args, lines[0], err)
	}
	return n
}

// canBindNonlocal reports whether 192.0.2.10 (TEST-NET-1) can be bound
// without IP_FREEBIND here, which would make the FreeBind test pointless.
func canBindNonlocal() bool {
	l, err := net.Listen("tcp4", "192.0.2.10:0")
	if err == nil {
		l.Close()
		return true
	}
	return false
}

// TestSocketOptions sets every socket option on one unit per family and
// reads each back from the service's side with getsockopt.
func TestSocketOptions(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t, "Mark= needs CAP_NET_ADMIN, and so do buffer sizes above net.core.rmem_max")
	e := newEnv(t)
	a := writeOptUnits(t, e)
	s := e.start()
	if got := s.records(msgIs("sockd ready"))[0].get("units"); got != "4" {
		t.Errorf("sockd ready with units=%s, want 4", got)
	}
	if n := len(s.records(match("level", "WARN", "msg", "socket option not applied"))); n != 0 {
		t.Errorf("%d socket options were not applied (warnings), want 0 as root", n)
	}

	// Backlog=: not readable with getsockopt; ss shows it as the Send-Q
	// of the listening socket.
	if n := backlogOf(t, "-lt", fmt.Sprintf("sport = :%d", a.p4)); n != 37 {
		t.Errorf("opt4: backlog %d, want 37", n)
	}
	if n := backlogOf(t, "-lt", fmt.Sprintf("sport = :%d", a.p6)); n != 38 {
		t.Errorf("opt6: backlog %d, want 38", n)
	}
	if n := backlogOf(t, "-lx", "src", a.ustream); n != 23 {
		t.Errorf("optunix: backlog %d, want 23", n)
	}
	for path, mode := range map[string]os.FileMode{a.ustream: 0o640, a.udgram: 0o640, e.path("u"): 0o750} {
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), mode)
		}
	}

	// Each service, started by a stream client, reports all its fds.
	checkOptReports(t, a, map[string]Report{
		"opt4":     e.triggerReport(t, "opt4", "tcp4", fmt.Sprintf("127.0.0.1:%d", a.p4)),
		"opt6":     e.triggerReport(t, "opt6", "tcp6", fmt.Sprintf("[::1]:%d", a.p6)),
		"opt6both": e.triggerReport(t, "opt6both", "tcp4", fmt.Sprintf("127.0.0.1:%d", a.pboth)), // IPv4 client, IPv6 socket
		"optunix":  e.triggerReport(t, "optunix", "unix", a.ustream),
	})
}

// optAddrs are the addresses of TestSocketOptions' units.
type optAddrs struct {
	p4, p4u, p6, p6u, pboth int
	ustream, udgram, abs    string
}

// writeOptUnits writes TestSocketOptions' four units: IPv4, IPv6, dual
// stack and Unix, with every option that applies to each.
func writeOptUnits(t *testing.T, e *env) optAddrs {
	a := optAddrs{p4: freePort(t), p4u: freePort(t), p6: freePort(t), p6u: freePort(t), pboth: freePort(t),
		ustream: e.path("u/stream.sock"), udgram: e.path("u/dgram.sock"), abs: "@sockd-e2e-opt-" + randName()}
	e.unit("opt4", append([]string{
		fmt.Sprintf("ListenStream=127.0.0.1:%d", a.p4),
		fmt.Sprintf("ListenDatagram=127.0.0.1:%d", a.p4u),
		"Backlog=37", "IPTOS=low-delay", "IPTTL=33",
	}, commonOptions...), []string{e.probe()})
	e.unit("opt6", append([]string{
		fmt.Sprintf("ListenStream=[::1]:%d", a.p6),
		fmt.Sprintf("ListenDatagram=[::1]:%d", a.p6u),
		"BindIPv6Only=ipv6-only", "Backlog=38", "IPTOS=40", "IPTTL=44",
	}, commonOptions...), []string{e.probe()})
	e.unit("opt6both", []string{fmt.Sprintf("ListenStream=[::]:%d", a.pboth), "BindIPv6Only=both"}, []string{e.probe()})
	e.unit("optunix", append([]string{
		"ListenStream=" + a.ustream,
		"ListenDatagram=" + a.udgram,
		"ListenSequentialPacket=" + a.abs,
		"Backlog=23", "IPTOS=low-delay", "IPTTL=33", "SocketMode=0640", "DirectoryMode=0750",
	}, commonOptions...), []string{e.probe()})
	return a
}

// triggerReport connects to the unit name at addr and returns the report
// of the service that answered.
func (e *env) triggerReport(t *testing.T, name, network, addr string) Report {
	t.Helper()
	// The request matters: DeferAcceptSec= holds back a connection until
	// the client sent something.
	got, err := askSend(network, addr, "hello\n", 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	pid := checkAnswer(t, got, name+".socket")
	var rep Report
	if !waitFor(10*time.Second, func() bool {
		for _, r := range e.reports() {
			if r.Pid == pid {
				rep = r
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s: no report from pid %d", name, pid)
	}
	return rep
}

// checkOptReports checks what each service of TestSocketOptions saw of
// its fds.
func checkOptReports(t *testing.T, a optAddrs, byName map[string]Report) {
	t.Helper()
	r := byName["opt4"]
	checkReport(t, r, []string{"opt4.socket", "opt4.socket"}, []want{
		{domain: unix.AF_INET, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("127.0.0.1:%d", a.p4)},
		{domain: unix.AF_INET, typ: unix.SOCK_DGRAM, sockname: fmt.Sprintf("127.0.0.1:%d", a.p4u)},
	})
	checkOpts(t, "opt4 tcp", r.Passed[0], merge(wantGeneric, wantIP, wantTCP, wantIPv4))
	checkOpts(t, "opt4 udp", r.Passed[1], merge(wantGeneric, wantIP, wantUDP, wantIPv4))

	r = byName["opt6"]
	checkReport(t, r, []string{"opt6.socket", "opt6.socket"}, []want{
		{domain: unix.AF_INET6, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("[::1]:%d", a.p6)},
		{domain: unix.AF_INET6, typ: unix.SOCK_DGRAM, sockname: fmt.Sprintf("[::1]:%d", a.p6u)},
	})
	checkOpts(t, "opt6 tcp", r.Passed[0], merge(wantGeneric, wantIP, wantTCP, wantIPv6))
	checkOpts(t, "opt6 udp", r.Passed[1], merge(wantGeneric, wantIP, wantUDP, wantIPv6))

	r = byName["opt6both"]
	checkReport(t, r, []string{"opt6both.socket"}, []want{
		{domain: unix.AF_INET6, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("[::]:%d", a.pboth)},
	})
	checkOpts(t, "opt6both", r.Passed[0], opts{"IPV6_V6ONLY": 0, "SO_REUSEADDR": 1, "SO_REUSEPORT": 0, "TCP_NODELAY": 0, "SO_KEEPALIVE": 0})

	r = byName["optunix"]
	checkReport(t, r, []string{"optunix.socket", "optunix.socket", "optunix.socket"}, []want{
		{domain: unix.AF_UNIX, typ: unix.SOCK_STREAM, sockname: a.ustream},
		{domain: unix.AF_UNIX, typ: unix.SOCK_DGRAM, sockname: a.udgram},
		{domain: unix.AF_UNIX, typ: unix.SOCK_SEQPACKET, sockname: a.abs},
	})
	for i, in := range r.Passed {
		checkOpts(t, fmt.Sprintf("optunix fd %d", in.FD), in, merge(wantGeneric, wantUnix))
		if in.BindToDevice != "" {
			t.Errorf("optunix fd %d: SO_BINDTODEVICE=%q, want none", 3+i, in.BindToDevice)
		}
	}
}

// TestFreeBind: a unit listening on 192.0.2.10 (TEST-NET-1, on no
// interface; no traffic is ever sent there) comes up with FreeBind=yes;
// without it, that unit fails with an error naming the unit, the address
// and the errno, while the other units of the same sockd come up and
// serve.
func TestFreeBind(t *testing.T) {
	t.Parallel()
	if canBindNonlocal() {
		t.Skip("192.0.2.10 can be bound without IP_FREEBIND here (a local address, or net.ipv4.ip_nonlocal_bind=1)")
	}
	e := newEnv(t)
	pfb, pfbLocal, pnofb, pnofbLocal, pother := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	e.unit("freebind", []string{
		fmt.Sprintf("ListenStream=192.0.2.10:%d", pfb),
		fmt.Sprintf("ListenStream=127.0.0.1:%d", pfbLocal),
		"FreeBind=yes",
	}, []string{e.probe()})
	e.unit("nofreebind", []string{
		fmt.Sprintf("ListenStream=127.0.0.1:%d", pnofbLocal),
		fmt.Sprintf("ListenStream=192.0.2.10:%d", pnofb),
	}, []string{e.probe()})
	e.unit("other", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", pother)}, []string{e.probe()})
	s := startIdle(t, e)
	r := s.waitLog(time.Second, match("msg", "unit failed", "unit", "nofreebind.socket"))
	if r.get("level") != "ERROR" {
		t.Errorf("logged at %s, want ERROR", r.get("level"))
	}
	for _, part := range []string{"nofreebind.socket", fmt.Sprintf("listen 192.0.2.10:%d", pnofb), "bind", "cannot assign requested address"} {
		if !strings.Contains(r.get("err"), part) {
			t.Errorf("error %q does not mention %q", r.get("err"), part)
		}
	}
	if got := s.records(msgIs("sockd ready"))[0].get("units"); got != "2" {
		t.Errorf("sockd ready with units=%s, want 2 (freebind and other)", got)
	}
	if n := len(s.records(match("msg", "listening", "unit", "nofreebind.socket"))); n != 0 {
		t.Errorf("nofreebind.socket is listening")
	}
	if n := len(s.records(match("msg", "listening", "unit", "freebind.socket"))); n != 1 {
		t.Errorf("freebind.socket logged %d listening records, want 1", n)
	}
	// Its first listener, bound before the second failed, was closed.
	if l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", pnofbLocal)); err != nil {
		t.Errorf("the failed unit still holds its other listener: %v", err)
	} else {
		l.Close()
	}
	checkAnswerOf(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", pother), "other.socket")
	pid := checkAnswerOf(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", pfbLocal), "freebind.socket")
	var rep Report
	if !waitFor(10*time.Second, func() bool {
		for _, x := range e.reports() {
			if x.Pid == pid {
				rep = x
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no report from pid %d", pid)
	}
	checkReport(t, rep, []string{"freebind.socket", "freebind.socket"}, []want{
		{domain: unix.AF_INET, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("192.0.2.10:%d", pfb)},
		{domain: unix.AF_INET, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("127.0.0.1:%d", pfbLocal)},
	})
	checkOpts(t, "freebind 192.0.2.10", rep.Passed[0], opts{"IP_FREEBIND": 1})
	checkOpts(t, "freebind 127.0.0.1", rep.Passed[1], opts{"IP_FREEBIND": 1})
}

// needTools skips (or, with CI=true, fails) without the given commands.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		testenv.RequireProgram(t, tool)
	}
}

// TestSocketOptionsNetns checks BindToDevice= and Transparent= (which
// need CAP_NET_ADMIN, or CAP_NET_RAW) in a network namespace of the
// test's own: sockd runs under unshare -n, and the client reaches it with
// nsenter.
func TestSocketOptionsNetns(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t, "network namespaces, BindToDevice=, Transparent=")
	needTools(t, "unshare", "nsenter", "ip")
	e := newEnv(t)
	p4, p6 := freePort(t), freePort(t)
	e.unit("dev", []string{
		fmt.Sprintf("ListenStream=127.0.0.1:%d", p4),
		fmt.Sprintf("ListenDatagram=[::1]:%d", p6),
		"BindToDevice=lo",
		"Transparent=yes",
	}, []string{e.probe()})
	e.unit("nodev", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", freePort(t)), "BindToDevice=sockd-nodev0"}, []string{e.probe()})
	s := e.startCmd("unshare", "-n", "sh", "-c", `ip link set lo up && exec "$0" "$@"`,
		sockdBin, "--units", e.unitDir, "--runtime-dir", e.runtimeDir)
	s.waitLog(15*time.Second, msgIs("sockd ready"))
	// An option the kernel refuses fails the unit, naming the directive,
	// the socket option and the errno.
	r := s.waitLog(time.Second, match("msg", "unit failed", "unit", "nodev.socket"))
	for _, part := range []string{"BindToDevice", "SO_BINDTODEVICE", "no such device"} {
		if !strings.Contains(r.get("err"), part) {
			t.Errorf("error %q does not mention %q", r.get("err"), part)
		}
	}
	// sockd is in another network namespace: from here, nothing listens.
	if _, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", p4), time.Second); err == nil {
		t.Errorf("127.0.0.1:%d answers in the test's namespace; sockd should be in its own", p4)
	}
	got, err := inNetns(t, s.pid(), "tcp4", fmt.Sprintf("127.0.0.1:%d", p4))
	if err != nil {
		t.Fatalf("client in sockd's namespace: %v", err)
	}
	pid := checkAnswer(t, got, "dev.socket")
	rep := onlyReport(t, e, pid)
	checkReport(t, rep, []string{"dev.socket", "dev.socket"}, []want{
		{domain: unix.AF_INET, typ: unix.SOCK_STREAM, sockname: fmt.Sprintf("127.0.0.1:%d", p4)},
		{domain: unix.AF_INET6, typ: unix.SOCK_DGRAM, sockname: fmt.Sprintf("[::1]:%d", p6)},
	})
	for _, in := range rep.Passed {
		if in.BindToDevice != "lo" {
			t.Errorf("fd %d: SO_BINDTODEVICE=%q, want \"lo\"", in.FD, in.BindToDevice)
		}
	}
	checkOpts(t, "dev tcp4", rep.Passed[0], opts{"IP_TRANSPARENT": 1})
	checkOpts(t, "dev udp6", rep.Passed[1], opts{"IPV6_TRANSPARENT": 1})
}
