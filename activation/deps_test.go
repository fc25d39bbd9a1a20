package activation

import (
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// TestDependencies keeps activation below the daemon: it binds and
// watches listeners for whoever asks, and knows nothing of the unit set,
// supervision or upgrades.
func TestDependencies(t *testing.T) {
	forbidden := map[string]bool{
		"internal/daemon": true, "internal/supervise": true, "internal/upgrade": true,
		"internal/controlserver": true, "internal/control": true,
	}
	for _, dep := range testenv.OwnDeps(t, ".") {
		if forbidden[dep] {
			t.Errorf("activation imports %s; the daemon uses activation, not the other way round", dep)
		}
	}
}
