package handoff

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package importable by any service: outside
// the standard library it may import only golang.org/x/sys/unix.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{"github.com/sockd/sockd/handoff": true, "golang.org/x/sys/unix": true}
	seen := 0
	for _, dep := range strings.Fields(string(out)) {
		seen++
		if !allowed[dep] {
			t.Errorf("handoff depends on %s; it may import only the standard library and golang.org/x/sys/unix", dep)
		}
	}
	if seen < 2 {
		t.Errorf("go list -deps listed %q; want at least the package and golang.org/x/sys/unix", out)
	}
}
