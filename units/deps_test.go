package units

import (
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// TestDependencies keeps the unit model at the bottom of the graph: it
// imports no other package of sockd, so both file formats, the daemon and
// any tool can use it.
func TestDependencies(t *testing.T) {
	for _, dep := range testenv.OwnDeps(t, ".") {
		t.Errorf("units imports %s; it may import no other package of sockd", dep)
	}
}
