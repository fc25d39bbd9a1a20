package service_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestStderrLabelledStderr: with the default StandardOutput=journal and
// StandardError=inherit, what the service writes to stderr is logged
// with stream=stderr, not stream=stdout (the probe writes its
// "reported" line to stderr).
func TestStderrLabelledStderr(t *testing.T) {
	s := start(t, probeUnits("out", "", nil))
	r := askReport(t, s, "out")
	line := waitLog(t, s, fmt.Sprintf("probe: pid %d reported", r.Pid))
	if !strings.Contains(line, "stream=stderr") {
		t.Errorf("the probe's stderr line is not labelled stderr: %s", line)
	}
}

// TestSyslogSettings: without journald (as on the test machine, where
// sockd logs the lines itself), a "<N>" prefix sets a line's priority,
// SyslogIdentifier= names it, LogLevelMax= drops lines above it, and
// SyslogLevelPrefix=no keeps the prefix as text.
func TestSyslogSettings(t *testing.T) {
	if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
		t.Skip("journald runs here: the lines go to it, not to sockd's log")
	}
	files := map[string]string{
		"sys.socket": "[Socket]\nListenStream=$WORK/sys.sock\n",
		"sys.service": "[Service]\nSyslogIdentifier=webby\nLogLevelMax=info\n" +
			`ExecStart=/bin/sh -c 'echo "<3>disk on fire"; echo "<7>too chatty"; echo plain; echo "<4>done" >&2; sleep 30'` + "\n",
		"raw.socket":  "[Socket]\nListenStream=$WORK/raw.sock\n",
		"raw.service": "[Service]\nSyslogLevelPrefix=no\nExecStart=/bin/sh -c 'echo \"<3>kept\"; sleep 30'\n",
	}
	s := start(t, files)
	sockctl(t, s, "start", "sys.service")
	sockctl(t, s, "start", "raw.service")
	if line := waitLog(t, s, `msg="disk on fire"`); !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "syslog_identifier=webby priority=3") {
		t.Errorf("the <3> line: %s", line)
	}
	if line := waitLog(t, s, "msg=done"); !strings.Contains(line, "level=WARN") || !strings.Contains(line, "stream=stderr") {
		t.Errorf("the <4> line on stderr: %s", line)
	}
	waitLog(t, s, "msg=plain")
	if line := waitLog(t, s, "kept"); !strings.Contains(line, "msg=<3>kept") || !strings.Contains(line, "syslog_identifier=sh priority=6") {
		t.Errorf("SyslogLevelPrefix=no: %s", line)
	}
	if strings.Contains(s.LogText(), "too chatty") {
		t.Errorf("the <7> line passed LogLevelMax=info")
	}
}
