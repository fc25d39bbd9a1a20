//go:build !cgo || !amd64

package spawn

import "github.com/sockd/sockd/internal/reaper"

// fastBuilt says whether this build has the fast spawn path: it needs cgo
// and, for its raw system calls, amd64.
const fastBuilt = false

func fastAvailable() bool { return false }

// spawnFast always leaves s to the shim in this build.
func spawnFast(*reaper.Reaper, *Spec) (*Process, bool, error) { return nil, false, nil }

// fastChild is the fast path's child: none in this build.
type fastChild struct{}

func (*Process) watchExec() {}

// WaitChildrenExec waits for the fast path's children to leave sockd's
// memory: without the fast path, every spawn waits for its child's exec.
func WaitChildrenExec() {}
