// Package sockets_test runs the built sockd with the socket unit features
// of systemd.socket(5) that go beyond binding an address: netlink
// listeners, the [Socket] Exec*= commands, template socket units and what
// a failed socket does to its clients. Every check is made from the
// outside (a client, the probe's report, the file system) against the
// real daemon.
package sockets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir string

func TestMain(m *testing.M) { e2e.Main(m, &binDir, "../../cmd/sockd", "../../cmd/sockctl", "../probe") }

func bin(name string) string { return filepath.Join(binDir, name) }

// env is one running sockd.
type env struct {
	*e2e.Sockd
	t      *testing.T
	client *control.Client
}

// start writes the unit files ($WORK and $BIN expanded) and
// starts binary (sockd, or a wrapper that execs it) on them.
func start(t *testing.T, binary string, files map[string]string) *env {
	t.Helper()
	s := e2e.Start(t, e2e.Options{Binary: binary, Args: []string{"--log-level", "debug"},
		Vars: [][2]string{{"$BIN", binDir}}}, files)
	if err := os.MkdirAll(filepath.Join(s.Work, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &env{Sockd: s, t: t, client: control.NewClient(filepath.Join(s.RuntimeDir, control.SocketName))}
}

// sockctl runs sockctl against e's sockd and returns its output and
// exit status.
func (e *env) sockctl(args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(bin("sockctl"), args...)
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+e.RuntimeDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		e.t.Fatalf("sockctl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
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

// waitFor polls cond (it looks at what sockd or its children left
// behind) for at most 10 s.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	e.t.Fatalf("never %s; sockd log:\n%s", what, e.LogText())
}

// report is the part of tests/probe's report these tests read.
type report struct {
	Pid           int    `json:"pid"`
	ListenFDs     string `json:"listen_fds"`
	ListenFDNames string `json:"listen_fdnames"`
	Passed        []struct {
		Domain      int    `json:"so_domain"`
		Type        int    `json:"so_type"`
		Protocol    int    `json:"so_protocol"`
		Sockname    string `json:"sockname"`
		NetlinkType int    `json:"netlink_type"`
	} `json:"passed"`
}

// waitReport waits for the first report in dir.
func (e *env) waitReport(dir string) report {
	e.t.Helper()
	var r report
	e.waitFor("a probe report in "+dir, func() bool {
		paths, _ := filepath.Glob(filepath.Join(dir, "report-*.json"))
		if len(paths) == 0 {
			return false
		}
		b, err := os.ReadFile(paths[0])
		return err == nil && json.Unmarshal(b, &r) == nil
	})
	return r
}

// probe returns an ExecStart= line running the probe, reporting to
// $WORK/reports/sub.
func probe(sub string, args ...string) string {
	return strings.TrimSpace(fmt.Sprintf("ExecStart=$BIN/probe -report $WORK/reports/%s %s", sub, strings.Join(args, " ")))
}
