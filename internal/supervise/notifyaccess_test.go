package supervise

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// With NOTIFYACCESS_TEST set, the test binary is the service of these
// tests: "main" sends READY=1 from the main process; "child" starts a
// child process that sends it and stays ("childsend"); "send" (an
// ExecStartPost= command) sends the message in NOTIFYACCESS_MSG, or
// READY=1, and exits. Then each waits to be stopped.
func init() {
	mode := os.Getenv("NOTIFYACCESS_TEST")
	if mode == "" {
		return
	}
	sendMsg := func() int {
		msg := os.Getenv("NOTIFYACCESS_MSG")
		if msg == "" {
			msg = "READY=1"
		}
		c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
		if err != nil {
			return 6
		}
		defer c.Close()
		if _, err := fmt.Fprint(c, msg); err != nil {
			return 7
		}
		return 0
	}
	switch mode {
	case "main":
		if code := sendMsg(); code != 0 {
			os.Exit(code)
		}
	case "child":
		cmd := exec.Command(os.Args[0], "-test.run=none")
		cmd.Env = append(os.Environ(), "NOTIFYACCESS_TEST=childsend")
		if cmd.Start() != nil {
			os.Exit(8)
		}
	case "childsend": // and stay, in the service's session
		if code := sendMsg(); code != 0 {
			os.Exit(code)
		}
	case "send":
		os.Exit(sendMsg())
	}
	for {
		time.Sleep(time.Hour) // without cgo, select{} would be a deadlock
	}
}

// notifyUnit is a Type=notify unit whose service is the test binary in
// mode, with extra [Service] lines.
func notifyUnit(t *testing.T, mode, extra string) map[string]string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"na.socket": "[Socket]\nListenStream=$DIR/s.sock\n",
		"na.service": "[Service]\nType=notify\nExecStart=" + exe + " -test.run=none\n" +
			"Environment=NOTIFYACCESS_TEST=" + mode + "\nTimeoutStartSec=2s\nTimeoutStopSec=5s\n" + extra,
	}
}

// TestNotifyAccess: NotifyAccess= decides, by the sender's pid, which
// process may say READY=1, as in systemd: the default for Type=notify is
// main, so READY=1 from a child the service forked is refused and the
// start times out (issue 16, finding 8); with all it is accepted.
func TestNotifyAccess(t *testing.T) {
	for _, c := range []struct {
		mode, access string
		ready        bool
	}{
		{"main", "", true},
		{"child", "", false},
		{"child", "NotifyAccess=main\n", false},
		{"child", "NotifyAccess=exec\n", false},
		{"child", "NotifyAccess=all\n", true},
		{"main", "NotifyAccess=none\n", false},
	} {
		t.Run(c.mode+"/"+strings.TrimSpace(c.access), func(t *testing.T) {
			h := startUnit(t, "na", notifyUnit(t, c.mode, c.access))
			err := h.u.Do(context.Background(), OpStart)
			st := h.u.Status()
			if ready := err == nil && st.State == StateRunning; ready != c.ready {
				t.Fatalf("%s %s: ready %v (err %v, %+v); want %v\nlog:\n%s", c.mode, c.access, ready, err, st, c.ready, h.log)
			}
			if !c.ready && !strings.Contains(h.log.String(), "sender not allowed") {
				t.Errorf("the refused READY=1 was not logged:\n%s", h.log)
			}
		})
	}
}

// TestNotifyAccessExec: NotifyAccess=exec also accepts the Exec*=
// commands sockd runs, here a STATUS= from ExecStartPost=; main does not.
func TestNotifyAccessExec(t *testing.T) {
	exe, _ := os.Executable()
	post := "ExecStartPost=/usr/bin/env NOTIFYACCESS_TEST=send NOTIFYACCESS_MSG=STATUS=from-post " + exe + " -test.run=none\n"
	for _, c := range []struct {
		access string
		want   string
	}{
		{"NotifyAccess=exec\n", "from-post"},
		{"NotifyAccess=main\n", ""},
	} {
		t.Run(strings.TrimSpace(c.access), func(t *testing.T) {
			h := startUnit(t, "na", notifyUnit(t, "main", c.access+post))
			h.start()
			if c.want != "" {
				h.waitFor("STATUS= from ExecStartPost=", func() bool { return h.u.Status().StatusText == c.want })
				return
			}
			h.waitFor("the refusal of ExecStartPost='s STATUS=", func() bool { return strings.Contains(h.log.String(), "sender not allowed") })
			if got := h.u.Status().StatusText; got != "" {
				t.Errorf("status text %q from a command NotifyAccess=main refuses", got)
			}
		})
	}
}
