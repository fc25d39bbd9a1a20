package unitdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

// TestLoadMaskedIsNotInvalid: a masked unit (its file a symlink to
// /dev/null or empty, in any directory) is listed as masked and left
// out, but it is no error: a reload must go on with the other units.
// systemd loads a masked unit as "masked", never as a failure.
func TestLoadMaskedIsNotInvalid(t *testing.T) {
	lib, etc := t.TempDir(), t.TempDir()
	write(t, lib, map[string]string{
		"good.socket": "[Socket]\nListenStream=127.0.0.1:7031\n", "good.service": service,
		"gone.socket": "[Socket]\nListenStream=127.0.0.1:7032\n", "gone.service": service,
		"empty.socket": "", "empty.service": service,
		"nosvc.socket": "[Socket]\nListenStream=127.0.0.1:7033\n", "nosvc.service": service,
	})
	// Masking in the later directory, as `systemctl mask` does in /etc.
	if err := os.Symlink("/dev/null", filepath.Join(etc, "gone.socket")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(etc, "nosvc.service")); err != nil {
		t.Fatal(err)
	}
	// A native unit masked the same way.
	write(t, lib, map[string]string{"native.toml": "[socket]\nlisten_stream = [\"127.0.0.1:7034\"]\n[service]\nexec_start = \"/bin/true\"\n"})
	if err := os.Symlink("/dev/null", filepath.Join(etc, "native.toml")); err != nil {
		t.Fatal(err)
	}
	res := Load([]string{lib, etc}, units.DefaultSpecifierEnv())
	if err := res.Err(); err != nil {
		t.Fatalf("Load: %v; want no error (masked units are not invalid)", err)
	}
	if got := names(res.Units); got != "good" {
		t.Errorf("units = %s; want good", got)
	}
	if got := strings.Join(res.Masked, ","); got != "empty.socket,gone.socket,native.toml,nosvc.service" {
		t.Errorf("masked = %s; want empty.socket,gone.socket,native.toml,nosvc.service", got)
	}
}
