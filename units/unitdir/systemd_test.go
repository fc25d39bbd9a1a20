package unitdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

// TestLoadSockets loads only the named sockets from a systemd-like tree:
// the others, valid or not, are not read; drop-ins apply from every
// directory; a mask in a later directory wins; a name no directory has
// is listed as not found, not as an error.
func TestLoadSockets(t *testing.T) {
	lib, etc := t.TempDir(), t.TempDir()
	write(t, lib, map[string]string{
		"a.socket": "[Socket]\nListenStream=127.0.0.1:7041\n", "a.service": service,
		"b.socket": "[Socket]\nListenStream=127.0.0.1:7042\n", "b.service": service,
		"broken.socket": "[Socket]\nNoSuchDirective=1\n",
		"other.service": "[Service]\nProtectSystem=strict\n",
	})
	write(t, etc, map[string]string{"a.socket.d/port.conf": "[Socket]\nListenStream=\nListenStream=127.0.0.1:7043\n"})
	if err := os.Symlink("/dev/null", filepath.Join(etc, "b.socket")); err != nil {
		t.Fatal(err)
	}
	res := LoadSockets([]string{lib, etc}, []string{"a.socket", "b.socket", "gone.socket"}, units.DefaultSpecifierEnv())
	if err := res.Err(); err != nil {
		t.Fatalf("LoadSockets: %v", err)
	}
	if got := names(res.Units); got != "a" {
		t.Fatalf("units = %s; want a", got)
	}
	if got := res.Units[0].Socket.Listeners[0].Address.String(); got != "127.0.0.1:7043" {
		t.Errorf("a listens on %s; want the drop-in's 127.0.0.1:7043", got)
	}
	if got := strings.Join(res.Masked, ","); got != "b.socket" {
		t.Errorf("masked = %s; want b.socket", got)
	}
	if got := strings.Join(res.NotFound, ","); got != "gone.socket" {
		t.Errorf("not found = %s; want gone.socket", got)
	}
	res = LoadSockets([]string{lib, etc}, []string{"broken.socket", "t@x.socket"}, units.DefaultSpecifierEnv())
	if got := strings.Join(res.InvalidNames(), ","); got != "broken,t@x" {
		t.Errorf("invalid = %s; want broken,t@x (%v)", got, res.Err())
	}
}
