package security_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/tests/internal/e2e"
)

// notifyUnits is victim, a Type=notify unit whose probe sends READY=1.
var notifyUnits = map[string]string{
	"victim.socket":  "[Socket]\nListenStream=$WORK/victim.sock\n",
	"victim.service": "[Service]\nType=notify\nExecStart=$BIN/probe -report $WORK -notify-delay 0\nTimeoutStartSec=10s\n",
}

// squat binds, as nobody, the abstract names sockd used to give the
// NOTIFY_SOCKETs of unit args[1] under sockd pid args[0]
// (@sockd.PID/notify/UNIT.N, N = 1…300, with and without the unit's
// suffixes), as the review did, and holds them until stdin closes.
func squat(args []string) error {
	var fds []int
	for _, unit := range []string{args[1], args[1] + ".socket", args[1] + ".service"} {
		for n := 1; n <= 300; n++ {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("@sockd.%s/notify/%s.%d", args[0], unit, n)
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
				return fmt.Errorf("bind %s: %w", name, err)
			}
			fds = append(fds, fd)
		}
	}
	waitStdin()
	for _, fd := range fds {
		unix.Close(fd)
	}
	return nil
}

// flood sends args[1] datagrams "READY=1" to the NOTIFY_SOCKET args[0],
// then one too long to be read whole, which sockd logs under a reason of
// its own once it has read every datagram before it.
func flood(args []string) error {
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0) // blocking: waits while sockd's queue is full
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrUnix{Name: args[0]}
	for range n {
		if err := unix.Sendto(fd, []byte("READY=1"), 0, to); err != nil {
			return err
		}
	}
	if err := unix.Sendto(fd, make([]byte, 8192), 0, to); err != nil {
		return err
	}
	fmt.Println("ready")
	return nil
}

func startVictim(t *testing.T) *e2e.Sockd {
	return e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Vars: [][2]string{{"$BIN", binDir}}}, notifyUnits)
}

// probeReport reads the probe's report (the only one in dir).
func probeReport(t *testing.T, dir string) (r struct {
	Pid          int    `json:"pid"`
	NotifySocket string `json:"notify_socket"`
}) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "report-*.json"))
	if len(m) != 1 {
		t.Fatalf("want one probe report in %s, got %v", dir, m)
	}
	data, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNotifySocketsCannotBeSquatted is finding 4 of issue 16: nobody
// bound the predictable abstract names of a Type=notify unit's next
// NOTIFY_SOCKETs, and the unit could no longer start (EADDRINUSE,
// Result: resources). Now the names are random, so the start succeeds.
func TestNotifySocketsCannotBeSquatted(t *testing.T) {
	exe := attacker(t)
	s := startVictim(t)
	stop := asNobody(t, exe, "squat", strconv.Itoa(s.Pid()), "victim")
	out, code := sockctl(t, s, "start", "victim.service")
	if code != 0 {
		t.Fatalf("sockctl start victim.service with the old names squatted: exit %d\n%s\nsockd's log:\n%s", code, out, s.LogText())
	}
	r := probeReport(t, s.Work)
	if !strings.HasPrefix(r.NotifySocket, "@") || len(r.NotifySocket) < len("@sockd./notify/victim.")+26 {
		t.Errorf("NOTIFY_SOCKET=%q: want an abstract name with 128 random bits", r.NotifySocket)
	}
	if out, _ := sockctl(t, s, "status", "victim"); !strings.Contains(out, "running") {
		t.Errorf("victim is not running:\n%s", out)
	}
	if err := stop(); err != nil {
		t.Errorf("the squatter failed: %v", err)
	}
}

// TestNotifyFloodCostsOneLine is finding 7 of issue 16: every foreign
// datagram on a notify socket logged a warning (51.5k in 3 s gave 6.9 MB
// of log). Now nobody's flood of 20000 datagrams logs one line.
func TestNotifyFloodCostsOneLine(t *testing.T) {
	exe := attacker(t)
	s := startVictim(t)
	if out, code := sockctl(t, s, "start", "victim.service"); code != 0 {
		t.Fatalf("sockctl start: %d %s", code, out)
	}
	addr := probeReport(t, s.Work).NotifySocket
	stop := asNobody(t, exe, "flood", addr, "20000")
	if err := stop(); err != nil {
		t.Fatalf("the flood failed: %v", err)
	}
	waitLog(t, s, "dropping message: too long")
	log := s.LogText()
	if n := strings.Count(log, "dropping message: sender not allowed"); n != 1 {
		t.Errorf("20000 refused datagrams logged %d lines saying so; want 1", n)
	}
	if n := strings.Count(log, "level=WARN"); n > 2 { // the refusals, then the long datagram
		t.Errorf("20000 refused datagrams logged %d warnings; want 2 at most", n)
	}
	if !strings.Contains(log, fmt.Sprintf("uid=%d", nobody)) {
		t.Errorf("the refusal does not name nobody's uid:\n%.3000s", log)
	}
}
