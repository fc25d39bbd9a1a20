// Package testenv decides, for sockd's tests, what to do when the machine
// lacks something a test needs (root, a kernel feature, a program, the cgo
// fast spawn path): skip with the reason on a developer's machine, fail
// where CI=true, because CI installs and runs everything and a skip there
// would hide a broken feature. Use it instead of t.Skip in every test that
// needs something of the machine.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run under CI (CI=true), where nothing may
// be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// Require skips the test with why unless ok; under CI it fails instead.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("missing under CI=true, where nothing is skipped: %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// RequireRoot skips (or under CI fails) a test that needs root; why says
// what for.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "needs root: "+why)
}

// RequireProgram returns the path of a program the test runs, skipping
// (or under CI failing) if it is not installed.
func RequireProgram(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, name+" is not installed")
	return p
}
