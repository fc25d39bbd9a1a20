package supervise

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envUnit is an Accept=yes unit whose instances write their environment
// to the connection and exit.
func envUnit(listen, stdin string) map[string]string {
	svc := "[Service]\nEnvironment=INSTANCE=%i NAME=%n\n"
	if stdin == "socket" {
		svc += "ExecStart=/usr/bin/env\nStandardInput=socket\n"
	} else {
		svc += "ExecStart=:/bin/sh -c 'exec >&3; echo SHELL_PID=$$; env'\n"
	}
	return map[string]string{
		"echo.socket":   "[Socket]\n" + listen + "\nAccept=yes\n",
		"echo@.service": svc,
	}
}

// TestAcceptUnixPeers: per-connection instances of a Unix stream and a
// seqpacket listener get REMOTE_ADDR only for a bound peer (its path or
// @abstract name), never REMOTE_PORT, and the instance name N-PID-UID.
func TestAcceptUnixPeers(t *testing.T) {
	h := startUnit(t, "echo", envUnit("ListenStream=$DIR/s.sock\nListenSequentialPacket=$DIR/q.sock", "socket"))
	self := fmt.Sprintf("-%d-%d", os.Getpid(), os.Getuid())
	for i, tc := range []struct {
		network, sock, from, remote string
	}{
		{"unix", "s.sock", "", ""},
		{"unix", "s.sock", h.path("client.sock"), h.path("client.sock")},
		{"unix", "s.sock", "@sockd-accept-test-" + strconv.Itoa(os.Getpid()), "@sockd-accept-test-" + strconv.Itoa(os.Getpid())},
		{"unixpacket", "q.sock", "", ""},
	} {
		c := h.dialUnix(tc.network, tc.sock, tc.from)
		env := envOf(readAll(t, c))
		c.Close()
		wantInstance := strconv.Itoa(i) + self
		if env["INSTANCE"] != wantInstance || env["NAME"] != "echo@"+wantInstance+".service" {
			t.Errorf("%s from %q: instance %q, name %q; want %q", tc.sock, tc.from, env["INSTANCE"], env["NAME"], wantInstance)
		}
		if got, ok := env["REMOTE_ADDR"]; got != tc.remote || ok != (tc.remote != "") {
			t.Errorf("%s from %q: REMOTE_ADDR=%q (set %v), want %q", tc.sock, tc.from, got, ok, tc.remote)
		}
		for _, k := range []string{"REMOTE_PORT", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
			if v, ok := env[k]; ok {
				t.Errorf("%s: %s=%s set", tc.sock, k, v)
			}
		}
	}
	h.waitFor("all instances ended", func() bool { return h.u.Status().Connections == 0 })
	if st := h.u.Status(); st.Accepted != 4 || st.Refused != 0 || st.State != StateListening {
		t.Errorf("status %+v; want 4 accepted, none refused, listening", st)
	}
}

// TestAcceptFD3: without StandardInput=socket the connection is fd 3 with
// LISTEN_FDS=1, LISTEN_FDNAMES=connection (or FileDescriptorName=) and
// LISTEN_PID the instance's own pid.
func TestAcceptFD3(t *testing.T) {
	for _, tc := range []struct{ extra, name string }{{"", "connection"}, {"FileDescriptorName=conn-x", "conn-x"}} {
		t.Run(tc.name, func(t *testing.T) {
			h := startUnit(t, "echo", envUnit("ListenStream=$DIR/s.sock\n"+tc.extra, "fd3"))
			env := envOf(readAll(t, h.dialUnix("unix", "s.sock", "")))
			if env["LISTEN_FDS"] != "1" || env["LISTEN_FDNAMES"] != tc.name || env["LISTEN_PID"] != env["SHELL_PID"] || env["LISTEN_PID"] == "" {
				t.Errorf("LISTEN_FDS=%q LISTEN_FDNAMES=%q LISTEN_PID=%q (shell pid %q)", env["LISTEN_FDS"], env["LISTEN_FDNAMES"], env["LISTEN_PID"], env["SHELL_PID"])
			}
		})
	}
}

// holdUnit is an Accept=yes unit whose instances hold their connection
// until the peer closes it.
func holdUnit(socket string) map[string]string {
	return map[string]string{
		"hold.socket":   "[Socket]\nListenStream=$DIR/s.sock\nAccept=yes\n" + socket,
		"hold@.service": "[Service]\nExecStart=/bin/cat\nStandardInput=socket\nTimeoutStopSec=5s\n",
	}
}

// refusedAtOnce checks that c is closed by sockd without a reply.
func refusedAtOnce(t *testing.T, c net.Conn) {
	t.Helper()
	start := time.Now()
	if got := readAll(t, c); got != "" {
		t.Errorf("refused connection answered %q", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused connection closed after %v", d)
	}
}

// TestAcceptMaxConnections: MaxConnections= counts live instances; the
// next connection is closed at once and counted as refused; once an
// instance ends there is room again.
func TestAcceptMaxConnections(t *testing.T) {
	h := startUnit(t, "hold", holdUnit("MaxConnections=2\n"))
	a, b := h.dialUnix("unix", "s.sock", ""), h.dialUnix("unix", "s.sock", "")
	h.waitFor("two instances running", func() bool {
		is := h.u.Instances()
		return len(is) == 2 && is[0].PID > 0 && is[1].PID > 0
	})
	refusedAtOnce(t, h.dialUnix("unix", "s.sock", ""))
	if st := h.u.Status(); st.Refused != 1 || st.Accepted != 2 || st.Connections != 2 {
		t.Errorf("status %+v; want 2 accepted, 1 refused, 2 live", st)
	}
	a.Close()
	h.waitFor("one instance left", func() bool { return h.u.Status().Connections == 1 })
	c := h.dialUnix("unix", "s.sock", "")
	c.Write([]byte("again\n"))
	c.CloseWrite()
	if got := readAll(t, c); got != "again\n" {
		t.Errorf("after an instance ended: %q", got)
	}
	b.Close()
	h.waitFor("no instance left", func() bool { return h.u.Status().Connections == 0 })
	if !strings.Contains(h.log.String(), "too many incoming connections (2), dropping connection") {
		t.Errorf("refusal not logged:\n%s", h.log)
	}
}

// TestAcceptMaxConnectionsPerSource: Unix peers count per UID.
func TestAcceptMaxConnectionsPerSource(t *testing.T) {
	h := startUnit(t, "hold", holdUnit("MaxConnections=10\nMaxConnectionsPerSource=1\n"))
	h.dialUnix("unix", "s.sock", "")
	h.waitFor("an instance running", func() bool { return h.u.Status().Connections == 1 })
	refusedAtOnce(t, h.dialUnix("unix", "s.sock", ""))
	if st := h.u.Status(); st.Refused != 1 {
		t.Errorf("status %+v; want 1 refused", st)
	}
	if want := "from source uid:" + strconv.Itoa(os.Getuid()); !strings.Contains(h.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, h.log)
	}
}

// stubbornUnit's instances ignore SIGTERM.
var stubbornUnit = map[string]string{
	"stub.socket":   "[Socket]\nListenStream=$DIR/s.sock\nAccept=yes\n",
	"stub@.service": "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; echo ready; while :; do sleep 0.05; done'\nStandardInput=socket\nTimeoutStopSec=300ms\n",
}

// runningInstance connects and waits until the instance answered.
func (h *harness) runningInstance() (net.Conn, Instance) {
	h.t.Helper()
	c := h.dialUnix("unix", "s.sock", "")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 6)
	if _, err := c.Read(buf); err != nil {
		h.t.Fatal(err)
	}
	var inst Instance
	h.waitFor("the instance's pid known", func() bool {
		is := h.u.Instances()
		if len(is) == 0 || is[len(is)-1].PID == 0 {
			return false
		}
		inst = is[len(is)-1]
		return true
	})
	return c, inst
}

// TestAcceptStopEscalates: when the unit stops, each instance gets
// KillSignal= and, after TimeoutStopSec=, SIGKILL; Run returns once all
// are gone.
func TestAcceptStopEscalates(t *testing.T) {
	h := startUnit(t, "stub", stubbornUnit)
	_, inst := h.runningInstance()
	start := time.Now()
	h.stop()
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Errorf("stopping took %v; want TimeoutStopSec=300ms, then SIGKILL", d)
	}
	if alive(inst.PID) {
		t.Errorf("instance %d still alive", inst.PID)
	}
	if !strings.Contains(h.log.String(), "instance did not stop in time, sending SIGKILL") {
		t.Errorf("log:\n%s", h.log)
	}
}

// TestAcceptStopInstances: StopInstance stops one instance, OpStop all of
// them; the listener keeps accepting.
func TestAcceptStopInstances(t *testing.T) {
	h := startUnit(t, "stub", stubbornUnit)
	_, one := h.runningInstance()
	if err := h.u.StopInstance(context.Background(), one.Name); err != nil {
		t.Fatal(err)
	}
	if alive(one.PID) || len(h.u.Instances()) != 0 {
		t.Errorf("after StopInstance: pid %d alive %v, instances %+v", one.PID, alive(one.PID), h.u.Instances())
	}
	if err := h.u.StopInstance(context.Background(), one.Name); err == nil {
		t.Error("StopInstance of an ended instance: no error")
	}
	_, two := h.runningInstance()
	if err := h.u.Do(context.Background(), OpStop); err != nil {
		t.Fatal(err)
	}
	if alive(two.PID) || h.u.Status().Connections != 0 {
		t.Errorf("after OpStop: pid %d alive %v, status %+v", two.PID, alive(two.PID), h.u.Status())
	}
	if err := h.u.Do(context.Background(), OpStart); err == nil {
		t.Error("OpStart of a template: no error")
	}
	h.runningInstance() // still accepting
}

// TestAcceptTriggerLimit: the trigger limit counts connections; when hit
// the unit fails and its listener is closed: a client is refused at once
// (not left waiting in the backlog) until the unit is reset, which binds
// the listener again.
func TestAcceptTriggerLimit(t *testing.T) {
	h := startUnit(t, "echo", map[string]string{
		"echo.socket":   "[Socket]\nListenStream=$DIR/s.sock\nAccept=yes\nTriggerLimitBurst=2\nTriggerLimitIntervalSec=1h\n",
		"echo@.service": "[Service]\nExecStart=/bin/echo hi\nStandardInput=socket\n",
	})
	for range 2 {
		if got := readAll(t, h.dialUnix("unix", "s.sock", "")); got != "hi\n" {
			t.Fatalf("reply %q", got)
		}
	}
	h.dialUnix("unix", "s.sock", "")
	h.waitFor("failed", func() bool { return h.u.Status().State == StateFailed })
	if st := h.u.Status(); st.Result != "trigger-limit-hit" || st.Accepted != 2 {
		t.Errorf("status %+v", st)
	}
	begin := time.Now()
	if _, err := net.Dial("unix", h.path("s.sock")); !errors.Is(err, syscall.ECONNREFUSED) || time.Since(begin) > 100*time.Millisecond {
		t.Errorf("dial while failed: %v after %v; want ECONNREFUSED within 100ms", err, time.Since(begin))
	}
	if err := h.u.Do(context.Background(), OpReset); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, h.dialUnix("unix", "s.sock", "")); got != "hi\n" {
		t.Errorf("after reset: %q", got)
	}
}

// TestAcceptSwitchToAcceptNo: a reload that turns Accept= off takes effect
// once the instances have ended; the listener is then blocking again and
// the next connection starts the Accept=no service with it.
func TestAcceptSwitchToAcceptNo(t *testing.T) {
	h := startUnit(t, "hold", holdUnit(""))
	fd := h.u.Listeners()[0].Fd()
	c := h.dialUnix("unix", "s.sock", "")
	h.waitFor("an instance running", func() bool { return h.u.Status().Connections == 1 })
	if !nonblocking(t, fd) {
		t.Error("listener blocking in accept mode")
	}
	next := loadUnit(t, h.dir, "hold", map[string]string{
		"hold.socket":  "[Socket]\nListenStream=$DIR/s.sock\n",
		"hold.service": "[Service]\nExecStart=/bin/sleep 100\n",
	})
	if err := h.u.Reconfigure(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	c.Close()
	h.waitFor("back to blocking", func() bool { return !nonblocking(t, fd) && h.u.Status().Connections == 0 })
	h.dialUnix("unix", "s.sock", "")
	h.waitFor("the Accept=no service running", func() bool {
		st := h.u.Status()
		return st.State == StateRunning && st.MainPID > 0
	})
}

func nonblocking(t *testing.T, fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&syscall.O_NONBLOCK != 0
}

// TestAcceptSwitchFromAcceptNo: a reload that turns Accept= on while the
// service is idle takes effect at once; the next connection gets an
// instance.
func TestAcceptSwitchFromAcceptNo(t *testing.T) {
	h := startUnit(t, "echo", map[string]string{
		"echo.socket":  "[Socket]\nListenStream=$DIR/s.sock\n",
		"echo.service": "[Service]\nExecStart=/bin/sleep 100\n",
	})
	next := loadUnit(t, h.dir, "echo", envUnit("ListenStream=$DIR/s.sock", "socket"))
	if err := h.u.Reconfigure(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	env := envOf(readAll(t, h.dialUnix("unix", "s.sock", "")))
	if want := fmt.Sprintf("0-%d-%d", os.Getpid(), os.Getuid()); env["INSTANCE"] != want {
		t.Errorf("instance %q, want %q; status %+v", env["INSTANCE"], want, h.u.Status())
	}
}
