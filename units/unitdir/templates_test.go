package unitdir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sockd/sockd/units"
)

// A template socket unit is verified as its test instance and not run;
// an enablement link NAME@INSTANCE.socket makes an instance a unit; a bad
// template is invalid under its own name, with the exact --check text.
func TestLoadTemplates(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"db@.socket": "[Socket]\nListenStream=/run/db-%i.sock\n", "db@.service": service,
		"bad@.socket": "[Socket]\nListenStream=/run/bad-%i.sock\nBacklog=x\n", "bad@.service": service,
	})
	if err := os.Symlink("db@.socket", filepath.Join(dir, "db@main.socket")); err != nil {
		t.Fatal(err)
	}
	res := Load([]string{dir}, units.DefaultSpecifierEnv())
	if got := names(res.Units); got != "db@main" {
		t.Errorf("units %q; want db@main", got)
	}
	if got := names(res.Templates); got != "db@test_instance" {
		t.Errorf("templates %q; want db@test_instance", got)
	}
	want := filepath.Join(dir, "bad@.socket") + `:3: [Socket] Backlog: invalid number "x"`
	if errs := res.Invalid["bad@"]; len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("bad@: %v; want %s", errs, want)
	}
	u, err := LoadInstance([]string{dir}, "db@other.socket", units.DefaultSpecifierEnv())
	if err != nil || u.Socket.Listeners[0].Address.Path != "/run/db-other.sock" || u.Service.Name != "db@other.service" {
		t.Errorf("LoadInstance(db@other.socket) = %+v, %v", u, err)
	}
}
