package tomlfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

// The example of the package doc is testdata/example/web.toml, and loads.
func TestDocExample(t *testing.T) {
	path := filepath.Join("testdata", "example", "web.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var block strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			block.WriteString("//\n")
		} else {
			block.WriteString("//\t" + line + "\n")
		}
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), block.String()) {
		t.Errorf("doc.go does not show %s as its example", path)
	}
	u, err := Load(path, testEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if u.Service.Name != "web.service" || len(u.Socket.Listeners) != 4 || len(u.Service.Environment) != 2 {
		t.Errorf("service %q, %d listeners, environment %q", u.Service.Name, len(u.Socket.Listeners), u.Service.Environment)
	}
	if s := u.Service.ExecStart[0].Argv[4]; s != "/srv/my site" {
		t.Errorf("argv[4] = %q; want %q", s, "/srv/my site")
	}
	if err := units.Validate(u); err != nil {
		t.Logf("Validate (depends on this host): %v", err)
	}
}
