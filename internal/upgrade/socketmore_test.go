package upgrade

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// The [Socket] settings of issue 12 (Socket.Extra, Socket.Helpers) and a
// template instance survive the upgrade state's encoding unchanged,
// PollLimitBurst=0 (a pointer to zero) too.
func TestSocketMoreSettingsSurviveUpgradeState(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"more.socket": "[Socket]\nListenNetlink=route 1\nListenMessageQueue=/q\nMessageQueueMaxMessages=4\n" +
			"MessageQueueMessageSize=64\nListenStream=/run/more.sock\nPassSecurity=yes\nTimestamping=ns\n" +
			"ExecStartPre=-/bin/true a\nExecStopPost=/bin/true\nTimeoutSec=5s\nFlushPending=yes\nPollLimitBurst=0\n",
		"more.service": "[Service]\nExecStart=/bin/true\n",
		"tpl@.socket":  "[Socket]\nListenStream=/run/tpl-%i.sock\nPollLimitIntervalSec=1s\n",
		"tpl@.service": "[Service]\nExecStart=/bin/echo %i\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("tpl@.socket", filepath.Join(dir, "tpl@x.socket")); err != nil {
		t.Fatal(err)
	}
	res := unitdir.Load([]string{dir}, units.DefaultSpecifierEnv())
	if err := res.Err(); err != nil || len(res.Units) != 2 {
		t.Fatalf("Load: %d units, %v", len(res.Units), err)
	}
	s, settings := testState(t, res.Units)
	data, err := Encode(s, settings)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	checkState(t, "keyed", got, s)
}
