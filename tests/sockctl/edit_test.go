package sockctl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/control"
)

// sockctl edit checks the drop-in before it saves it, then reloads
// sockd, as systemctl edit does (issue 18).
func TestEdit(t *testing.T) {
	e := startSockd(t, testUnits)
	editor := filepath.Join(t.TempDir(), "editor")
	content := filepath.Join(t.TempDir(), "content")
	// The "editor" replaces the file with what the test put in content.
	if err := os.WriteFile(editor, []byte("#!/bin/sh\ncat "+content+" > \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDITOR", editor)
	t.Setenv("SYSTEMD_EDITOR", "")
	dropIn := filepath.Join(e.work, "units", "web.socket.d", "override.conf")

	os.WriteFile(content, []byte("[Socket]\nBacklog=lots\n"), 0o644)
	r := e.sockctl("edit", "web.socket")
	if r.code != 1 || !strings.Contains(r.stderr, "Backlog") || !strings.Contains(r.stderr, "nothing saved") {
		t.Errorf("edit with an invalid drop-in: exit %d, want 1 and the error:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(dropIn); err == nil {
		t.Errorf("the invalid drop-in was saved")
	}

	os.WriteFile(content, []byte("[Socket]\nBacklog=64\n"), 0o644)
	r = e.sockctl("edit", "web.socket")
	if r.code != 0 {
		t.Fatalf("edit with a valid drop-in: exit %d\n%s", r.code, r.stderr)
	}
	if data, err := os.ReadFile(dropIn); err != nil || string(data) != "[Socket]\nBacklog=64\n" {
		t.Errorf("saved drop-in: %q, %v", data, err)
	}
	e.waitFor("web.socket", "loaded from the drop-in", func(u control.Unit) bool {
		return strings.Contains(strings.Join(u.Files, " "), "override.conf")
	})
}
