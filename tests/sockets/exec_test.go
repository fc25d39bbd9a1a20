package sockets_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExecStartPreMakesSocketDirectory is sssd's pattern: the socket's
// path lies in a directory that [Socket] ExecStartPre= creates (here with
// mode 0710, which sockd's DirectoryMode=0755 would not give it), so it
// must run before the bind. ExecStartPost= runs once the socket exists;
// ExecStopPre= while it still exists and ExecStopPost= once it is gone
// (RemoveOnStop=yes), on `sockctl stop`.
func TestExecStartPreMakesSocketDirectory(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"nss.socket": `[Socket]
ExecStartPre=/bin/mkdir -m 0710 -p $WORK/sss/pipes
ListenStream=$WORK/sss/pipes/nss
RemoveOnStop=yes
ExecStartPost=/bin/sh -c 'test -S $WORK/sss/pipes/nss && echo bound > $WORK/post'
ExecStopPre=/bin/sh -c 'test -S $WORK/sss/pipes/nss && echo still-there > $WORK/stop-pre'
ExecStopPost=-/bin/sh -c 'test -e $WORK/sss/pipes/nss || echo removed > $WORK/stop-post'
`,
		"nss.service": "[Service]\n" + probe("nss") + "\n",
	})
	if err := os.MkdirAll(filepath.Join(e.Work, "reports/nss"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(e.Work, "sss/pipes"))
	if err != nil || st.Mode().Perm() != 0o710 {
		t.Fatalf("the socket's directory: %v, %v; want mode 0710 from ExecStartPre=", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(e.Work, "post")); err != nil || string(b) != "bound\n" {
		t.Errorf("ExecStartPost= saw no socket: %q, %v", b, err)
	}
	c, err := net.Dial("unix", filepath.Join(e.Work, "sss/pipes/nss"))
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	c.Close()
	if r := e.waitReport(filepath.Join(e.Work, "reports/nss")); r.ListenFDNames != "nss.socket" {
		t.Errorf("LISTEN_FDNAMES = %q; want nss.socket", r.ListenFDNames)
	}
	if out, code := e.sockctl("stop", "nss.socket"); code != 0 {
		t.Fatalf("sockctl stop nss.socket: exit %d: %s", code, out)
	}
	for file, want := range map[string]string{"stop-pre": "still-there\n", "stop-post": "removed\n"} {
		if b, err := os.ReadFile(filepath.Join(e.Work, file)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", file, b, err, want)
		}
	}
}

// TestExecStartPreFailure: a failing ExecStartPre= keeps the socket from
// binding, and the log says which command failed and how; other units
// start.
func TestExecStartPreFailure(t *testing.T) {
	e := start(t, bin("sockd"), map[string]string{
		"bad.socket":   "[Socket]\nExecStartPre=/bin/false\nListenStream=$WORK/bad.sock\n",
		"bad.service":  "[Service]\n" + probe("bad") + "\n",
		"good.socket":  "[Socket]\nListenStream=$WORK/good.sock\n",
		"good.service": "[Service]\n" + probe("good") + "\n",
	})
	if _, err := os.Stat(filepath.Join(e.Work, "bad.sock")); !os.IsNotExist(err) {
		t.Errorf("bad.sock: %v; want it never bound", err)
	}
	if !strings.Contains(e.LogText(), "unit bad.socket: ExecStartPre false: code=exited, status=1/FAILURE") {
		t.Errorf("the log does not say that ExecStartPre= failed:\n%s", e.LogText())
	}
	if _, err := os.Stat(filepath.Join(e.Work, "good.sock")); err != nil {
		t.Errorf("good.sock: %v", err)
	}
}
