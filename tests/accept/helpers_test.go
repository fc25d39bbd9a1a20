// Package accept_test runs the built sockd with Accept=yes units against
// real clients on loopback: inetd-style and fd-3 instances, what each
// instance sees from its side, MaxConnections= and
// MaxConnectionsPerSource=, floods, and the fds, zombies and memory
// sockd is left with afterwards.
package accept_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir, raceDir string

func TestMain(m *testing.M) {
	dir, err := e2e.Build(nil, "../../cmd/sockd", "../../cmd/sockctl", "./fdprobe")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building sockd, sockctl and fdprobe:", err)
		os.Exit(1)
	}
	// Under -race, sockd is built with it too: its accept loop under real
	// load is what the race detector should see. The memory measurement
	// uses the plain build (the detector's shadow memory grows).
	if raceBuild {
		race, err := e2e.Build([]string{"-race"}, "../../cmd/sockd")
		if err != nil {
			fmt.Fprintln(os.Stderr, "building sockd -race:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		raceDir = race
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if raceDir != "" {
		os.RemoveAll(raceDir)
	}
	os.Exit(code)
}

func bin(name string) string { return filepath.Join(binDir, name) }

// sockdBinary is the sockd the tests run: the -race build when the tests
// run with -race.
func sockdBinary() string {
	if raceBuild {
		return filepath.Join(raceDir, "sockd")
	}
	return bin("sockd")
}

// env is one running sockd.
type env struct {
	*e2e.Sockd
	t      *testing.T
	work   string // unit files and sockets live here
	rt     string // the runtime directory
	client *control.Client
}

// startSockd writes the unit files (name → content; $WORK and $BIN
// expanded) and starts sockd on them, passing it extra as fds 3, 4, …
// (without LISTEN_FDS: fds sockd does not know about). It is stopped
// when the test ends.
func startSockd(t *testing.T, files map[string]string, extra ...*os.File) *env {
	t.Helper()
	return startBinary(t, sockdBinary(), files, extra...)
}

// startBinary is startSockd with the sockd binary to run.
func startBinary(t *testing.T, sockd string, files map[string]string, extra ...*os.File) *env {
	t.Helper()
	s := e2e.Start(t, e2e.Options{
		Binary: sockd, Args: []string{"--log-level", "debug"}, Extra: extra,
		Vars: [][2]string{{"$BIN", binDir}},
	}, files)
	e := &env{Sockd: s, t: t, work: s.Work, rt: s.RuntimeDir,
		client: control.NewClient(filepath.Join(s.RuntimeDir, control.SocketName))}
	// Open the client's keep-alive connection now, so that fd counts of
	// sockd taken from here on include it.
	if _, err := e.client.Units(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// sockctl runs sockctl against e's sockd and returns its stdout; a
// non-zero exit fails the test.
func (e *env) sockctl(args ...string) string {
	e.t.Helper()
	cmd := exec.Command(bin("sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+e.rt)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("sockctl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// unit returns the control API's view of a unit.
func (e *env) unit(name string) control.Unit {
	e.t.Helper()
	u, err := e.client.Unit(context.Background(), name)
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	return u
}

// waitFor polls cond for at most 10 s.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	e.t.Fatalf("never %s; sockd log:\n%s", what, e.tail(40))
}

// tail returns the last n lines of sockd's log.
func (e *env) tail(n int) string {
	lines := strings.Split(strings.TrimRight(e.LogText(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freePort returns a TCP port that is free on every loopback address
// (IPv4 and IPv6) at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dial connects to addr, from the local address from if it is not "".
func dial(t *testing.T, network, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial(network, addr)
	if err != nil {
		testenv.Require(t, network != "tcp6", fmt.Sprintf("no IPv6 on loopback: %v", err))
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads c to end of file within timeout; a reset connection
// reads as what came before the reset.
func readAll(c net.Conn, timeout time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var b bytes.Buffer
	_, err := b.ReadFrom(c)
	if errors.Is(err, syscall.ECONNRESET) {
		err = nil
	}
	return b.String(), err
}

// procStatus returns a field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

// fdCount returns how many fds sockd has open, leaving out the
// connections to its control socket: how many of those the test's own
// client (and its keep-alive pool) holds at a given moment is the
// client's business, not a leak of sockd's.
func (e *env) fdCount() int {
	e.t.Helper()
	conns := controlConns(e.t, e.rt)
	dir := "/proc/" + strconv.Itoa(e.Pid()) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ent := range ents {
		target, _ := os.Readlink(filepath.Join(dir, ent.Name()))
		if ino, ok := strings.CutPrefix(target, "socket:["); ok && conns[strings.TrimSuffix(ino, "]")] {
			continue
		}
		n++
	}
	return n
}

// controlConns returns the inodes of the connections to the control
// socket of the runtime directory rt, from /proc/net/unix: an accepted
// socket shows the path its listener was bound to, which is
// rt/control.sock, or rt/.sock-XXXX/control.sock where safesock binds it
// before renaming it into place.
func controlConns(t *testing.T, rt string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(line)
		if len(f) == 8 && f[5] == "03" && // SS_CONNECTED
			filepath.Base(f[7]) == control.SocketName && strings.HasPrefix(f[7], rt+"/") {
			out[f[6]] = true
		}
	}
	return out
}

// children returns the pids and states of pid's child processes.
func children(t *testing.T, pid int) map[int]string {
	t.Helper()
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		cpid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(data[bytes.LastIndexByte(data, ')')+2:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out[cpid] = f[0]
		}
	}
	return out
}

// zombies returns the children of pid in state Z.
func zombies(t *testing.T, pid int) []int {
	var z []int
	for cpid, st := range children(t, pid) {
		if st == "Z" {
			z = append(z, cpid)
		}
	}
	return z
}
