package sockctl_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
)

// tickUnits: a service that prints its pid and exits, restarted at once.
var tickUnits = map[string]string{
	"tick.socket":  "[Socket]\nListenStream=$WORK/tick.sock\n",
	"tick.service": "[Service]\nExecStart=/bin/sh -c 'echo tick-$$$$; exec sleep 0.2'\nRestart=always\nRestartSec=50ms\n",
}

var tickRE = regexp.MustCompile(`tick-(\d+)`)

// sockctl logs -f follows a service's output live across its restarts;
// -n and --since select what was kept; --json gives records whose
// attributes are JSON values (issue 18).
func TestLogsFollow(t *testing.T) {
	e := startSockd(t, tickUnits)
	e.want(0, []string{"start", "tick.service"})

	cmd := exec.Command(filepath.Join(binDir, "sockctl"), "logs", "-f", "tick.service")
	cmd.Env = append(os.Environ(), "SOCKD_RUNTIME_DIR="+e.rt)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	pids := map[string]bool{}
	timeout := time.After(15 * time.Second)
	for len(pids) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("sockctl logs -f ended early: %s", stderr.String())
			}
			if m := tickRE.FindStringSubmatch(l); m != nil {
				pids[m[1]] = true
			}
		case <-timeout:
			t.Fatalf("sockctl logs -f showed the output of %d processes in 15s, want 3 (restarts followed live)\nsockd log:\n%s", len(pids), e.LogText())
		}
	}
	cmd.Process.Signal(os.Interrupt)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("sockctl logs -f after Ctrl-C: %v, want exit 0\n%s", err, stderr.String())
	}

	r := e.want(0, []string{"logs", "-n", "2", "tick.service"})
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Errorf("logs -n 2 printed %d lines:\n%s", n, r.stdout)
	}
	if r := e.want(0, []string{"logs", "--since", "2099-01-01", "tick"}); r.stdout != "" {
		t.Errorf("logs --since the future printed:\n%s", r.stdout)
	}
	r = e.want(0, []string{"logs", "--json", "-n", "50", "tick.service"})
	sawAttrs := false
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var rec struct {
			Message string         `json:"message"`
			Attrs   map[string]any `json:"attrs"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("logs --json line %q: %v", l, err)
		}
		if rec.Attrs["service"] == "tick.service" {
			sawAttrs = true
		}
	}
	if !sawAttrs {
		t.Errorf("no record in logs --json has the attribute service=tick.service as a JSON member:\n%s", r.stdout)
	}
	e.want(4, []string{"logs", "nosuch.service"})
}

// The records sockd kept survive an upgrade: sockctl logs shows the
// lines from before it (issue 18).
func TestLogsSurviveUpgrade(t *testing.T) {
	e := startSockd(t, map[string]string{
		"once.socket":  "[Socket]\nListenStream=$WORK/once.sock\n",
		"once.service": "[Service]\nExecStart=/bin/sh -c 'echo before-upgrade-$$$$; exec sleep 1000'\n",
	})
	e.want(0, []string{"start", "once.service"})
	var before string
	for deadline := time.Now().Add(10 * time.Second); before == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`before-upgrade-\d+`).FindString(e.sockctl("logs", "once").stdout); m != "" {
			before = m
		}
	}
	if before == "" {
		t.Fatalf("the service's line never reached sockctl logs\nsockd log:\n%s", e.LogText())
	}
	e.want(0, []string{"upgrade"})
	e.waitFor("once.service", "running after the upgrade", func(u control.Unit) bool { return u.ActiveState == "active" })
	if r := e.want(0, []string{"logs", "once.service"}); !strings.Contains(r.stdout, before) {
		t.Errorf("after the upgrade, sockctl logs lacks %q:\n%s\nsockd log:\n%s", before, r.stdout, e.LogText())
	}
}
