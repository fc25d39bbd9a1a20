package accept_test

import (
	"os"
	"testing"
)

// openLeak opens a file to hand to sockd as an fd it does not expect
// (exec.Cmd.ExtraFiles clears its close-on-exec flag in sockd).
func openLeak(t *testing.T) (*os.File, error) {
	t.Helper()
	return os.Open("/dev/null")
}
