package unitdir

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/units"
)

// TestSpecialFilesAreSkipped: a FIFO named as a unit file, or as a
// drop-in, never hangs the load (issue 16, finding 8): the unit file is
// skipped with an error saying so, the unit with the FIFO drop-in is
// invalid, and the other units load.
func TestSpecialFilesAreSkipped(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"good.socket": "[Socket]\nListenStream=127.0.0.1:7001\n", "good.service": service,
		"dropin.socket": "[Socket]\nListenStream=127.0.0.1:7002\n", "dropin.service": service,
	})
	os.Mkdir(filepath.Join(dir, "dropin.service.d"), 0o755)
	for _, p := range []string{"fifo.socket", "fifo.toml", "dropin.service.d/x.conf"} {
		if err := syscall.Mkfifo(filepath.Join(dir, p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan *Result, 1)
	go func() { done <- Load([]string{dir}, units.DefaultSpecifierEnv()) }()
	var r *Result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load hangs on a FIFO")
	}
	if got := names(r.Units); got != "good" {
		t.Errorf("loaded %q; want good", got)
	}
	all := r.Err().Error()
	for _, want := range []string{
		filepath.Join(dir, "fifo.socket") + ": not a regular file (a FIFO); skipped",
		filepath.Join(dir, "fifo.toml") + ": not a regular file (a FIFO); skipped",
		filepath.Join(dir, "dropin.service.d/x.conf") + ": not a regular file (a FIFO)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
}
