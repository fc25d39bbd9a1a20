package service_test

import (
	"fmt"
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
