package main

import (
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// TestDependencies keeps sockctl a client: of sockd's packages it links
// only the control API (types and client), the version stamp and the
// enablement links (file operations, as systemctl's), no server code
// (controlserver, safesock, supervise, daemon, spawn, logring,
// activation, …).
func TestDependencies(t *testing.T) {
	allowed := map[string]bool{"internal/control": true, "internal/buildinfo": true, "internal/enable": true}
	deps := testenv.OwnDeps(t, ".")
	for _, dep := range deps {
		if !allowed[dep] {
			t.Errorf("sockctl links %s; it may link only internal/control, buildinfo and enable", dep)
		}
	}
	if len(deps) == 0 {
		t.Error("go list -deps found no internal/control in sockctl: the test no longer sees its imports")
	}
}
