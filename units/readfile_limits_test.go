package units

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadFileRefusesWhatIsNotAUnitFile is finding 8 of issue 16: a FIFO
// (or /proc/kmsg) in a unit directory hung --check and reload, and a
// 1 GB sparse drop-in drove RSS to 2.4 GB. Each is refused at once now.
func TestReadFileRefusesWhatIsNotAUnitFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.socket")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "big.conf")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30)
	f.Close()
	grown := filepath.Join(dir, "grown.conf") // exactly the cap is fine, one more byte is not
	os.WriteFile(grown, []byte(strings.Repeat("#", MaxFileSize)), 0o644)
	if _, err := ReadFile(grown); err != nil {
		t.Errorf("a file of MaxFileSize bytes: %v", err)
	}
	os.WriteFile(grown, []byte(strings.Repeat("#", MaxFileSize+1)), 0o644)

	cases := map[string]string{
		fifo:        "not a regular file (a FIFO)",
		sparse:      "larger than 4194304 bytes",
		grown:       "larger than 4194304 bytes",
		"/dev/zero": "not a regular file (a character device)",
	}
	if _, err := os.Stat("/proc/kmsg"); err == nil && os.Geteuid() == 0 {
		cases["/proc/kmsg"] = "kernel pseudo file system"
	}
	for path, want := range cases {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile(%s): %v; want an error naming it and saying %q", path, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) hangs", path)
		}
	}
}
