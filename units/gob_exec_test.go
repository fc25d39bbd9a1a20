package units

import (
	"bytes"
	"encoding/gob"
	"testing"
)

// TestExecSettingsGob: the settings of issue 14 survive gob, which
// sockd's upgrade state uses to hand the units to the new image (an
// array of nil pointers, for one, does not).
func TestExecSettingsGob(t *testing.T) {
	svcAt := func(name, value string, line int) Assignment {
		a := at("Service", name, value, line)
		if name == "ConditionPathExists" || name == "StartLimitBurst" {
			a.Section = "Unit"
		}
		return a
	}
	for _, as := range [][]Assignment{
		nil,
		{svcAt("LimitCORE", "0", 1), svcAt("RuntimeDirectory", "web", 2), svcAt("SuccessExitStatus", "3 SIGUSR1", 3),
			svcAt("ConditionPathExists", "!/x", 4), svcAt("WatchdogSec", "3s", 5), svcAt("TasksMax", "10", 6),
			svcAt("SyslogIdentifier", "w", 7), svcAt("OOMScoreAdjust", "-5", 8), svcAt("StartLimitBurst", "3", 9)},
	} {
		u, err := build(as...)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(u); err != nil {
			t.Fatalf("encoding: %v", err)
		}
		var back Unit
		if err := gob.NewDecoder(&b).Decode(&back); err != nil {
			t.Fatal(err)
		}
		if !Equal(u, &back) {
			t.Errorf("after gob: %+v\nwant %+v", back.Service, u.Service)
		}
	}
}
