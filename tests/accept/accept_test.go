package accept_test

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// report is what fdprobe writes (tests/accept/fdprobe).
type report struct {
	Pid       int
	Args      []string
	Env       map[string]string
	FDs       map[int]string
	Inherited []int
	Names     []string
}

func probe(t *testing.T, network, addr, from string) (report, int) {
	t.Helper()
	c := dial(t, network, addr, from)
	out, err := readAll(c, 10*time.Second)
	if err != nil {
		t.Fatalf("%s %s: %v (got %q)", network, addr, err, out)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s %s: %v: %q", network, addr, err, out)
	}
	return r, c.LocalAddr().(*net.TCPAddr).Port
}

// TestInetdEcho: /bin/cat with StandardInput=socket, the classic inetd
// echo service, on IPv4 and IPv6.
func TestInetdEcho(t *testing.T) {
	port := freePort(t)
	e := startSockd(t, map[string]string{
		"echo.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nListenStream=[::1]:%d\nAccept=yes\n", port, port),
		"echo@.service": "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
	})
	for _, tc := range []struct{ network, host string }{{"tcp4", "127.0.0.1"}, {"tcp6", "::1"}} {
		c := dial(t, tc.network, net.JoinHostPort(tc.host, strconv.Itoa(port)), "")
		msg := strings.Repeat("echo "+tc.host+"\n", 1000)
		go func() {
			c.Write([]byte(msg))
			c.(*net.TCPConn).CloseWrite()
		}()
		if got, err := readAll(c, 10*time.Second); err != nil || got != msg {
			t.Errorf("%s: echoed %d bytes (%v), want %d", tc.host, len(got), err, len(msg))
		}
	}
	e.waitFor("both instances ended", func() bool { return e.unit("echo.socket").Activations == 2 && len(children(t, e.Pid())) == 0 })
}

// TestFD3Instance: an instance without StandardInput=socket gets the
// connection as fd 3 with LISTEN_FDS=1, LISTEN_FDNAMES=connection,
// LISTEN_PID its own pid, REMOTE_ADDR and REMOTE_PORT as systemd sets
// them (IPv4, IPv6, and an IPv4 client of a bare-port dual-stack
// listener in IPv4 form), and the instance name systemd gives it as %i.
func TestFD3Instance(t *testing.T) {
	p4, p6, bare := freePort(t), freePort(t), freePort(t)
	startSockd(t, map[string]string{
		"probe.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nListenStream=[::1]:%d\nListenStream=%d\nAccept=yes\n", p4, p6, bare),
		"probe@.service": "[Service]\nExecStart=$BIN/fdprobe %i %n\n",
	})
	for n, tc := range []struct {
		network, host, want string
		port                int
	}{
		{"tcp4", "127.0.0.1", "127.0.0.1", p4},
		{"tcp6", "::1", "::1", p6},
		{"tcp4", "127.0.0.1", "127.0.0.1", bare},
		{"tcp6", "::1", "::1", bare},
	} {
		r, cport := probe(t, tc.network, net.JoinHostPort(tc.host, strconv.Itoa(tc.port)), "")
		if r.Env["REMOTE_ADDR"] != tc.want || r.Env["REMOTE_PORT"] != strconv.Itoa(cport) {
			t.Errorf("%s → %d: REMOTE_ADDR=%q REMOTE_PORT=%q; want %s %d", tc.host, tc.port, r.Env["REMOTE_ADDR"], r.Env["REMOTE_PORT"], tc.want, cport)
		}
		if r.Env["LISTEN_FDS"] != "1" || r.Env["LISTEN_FDNAMES"] != "connection" || r.Env["LISTEN_PID"] != strconv.Itoa(r.Pid) ||
			!slices.Equal(r.Names, []string{"connection"}) {
			t.Errorf("%s → %d: pid %d, env %v, names %v", tc.host, tc.port, r.Pid, r.Env, r.Names)
		}
		instance := fmt.Sprintf("%d-%s:%d-%s:%d", n, tc.want, tc.port, tc.want, cport)
		if !slices.Equal(r.Args, []string{instance, "probe@" + instance + ".service"}) {
			t.Errorf("%s → %d: %%i %%n = %q; want %q", tc.host, tc.port, r.Args, instance)
		}
		if !slices.Equal(r.Inherited, []int{0, 1, 2, 3}) || !strings.HasPrefix(r.FDs[3], "socket:") {
			t.Errorf("%s → %d: fds %v, inherited %v; want 0-2 and the socket as 3", tc.host, tc.port, r.FDs, r.Inherited)
		}
	}
}

// TestInetdFDHygiene: an inetd-style instance (started without the shim)
// has exactly fds 0, 1 and 2, all the connection, even though sockd
// itself holds an fd it inherited without close-on-exec.
func TestInetdFDHygiene(t *testing.T) {
	port := freePort(t)
	leak, err := openLeak(t)
	if err != nil {
		t.Fatal(err)
	}
	e := startSockd(t, map[string]string{
		"probe.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port),
		"probe@.service": "[Service]\nExecStart=$BIN/fdprobe\nStandardInput=socket\n",
	}, leak)
	leak.Close()
	r, cport := probe(t, "tcp4", "127.0.0.1:"+strconv.Itoa(port), "")
	if !slices.Equal(r.Inherited, []int{0, 1, 2}) || r.FDs[0] != r.FDs[1] || r.FDs[1] != r.FDs[2] || !strings.HasPrefix(r.FDs[0], "socket:") {
		t.Errorf("fds %v, inherited %v; want only 0-2, all the connection", r.FDs, r.Inherited)
	}
	if len(r.Env) != 2 || r.Env["REMOTE_ADDR"] != "127.0.0.1" || r.Env["REMOTE_PORT"] != strconv.Itoa(cport) {
		t.Errorf("env %v; want REMOTE_ADDR and REMOTE_PORT only", r.Env)
	}
	e.Stop()
}
