package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// Module is the import path of sockd's module.
const Module = "github.com/sockd/sockd"

// Deps returns the import paths of every package pkg links, outside the
// standard library, pkg itself included (go list -deps, like tailscale's
// cmd/tailscaled/deps_test.go). pkg is a pattern for go list: "." is the
// package of the calling test.
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps %s listed nothing", pkg)
	}
	return deps
}

// OwnDeps returns the packages of sockd's own module among Deps(t, pkg),
// without the module prefix ("internal/control", "units"); pkg itself is
// left out.
func OwnDeps(t testing.TB, pkg string) []string {
	t.Helper()
	deps := Deps(t, pkg)
	self := deps[len(deps)-1] // go list -deps lists a package after its dependencies
	var own []string
	for _, d := range deps {
		if d != self && strings.HasPrefix(d, Module+"/") {
			own = append(own, strings.TrimPrefix(d, Module+"/"))
		}
	}
	return own
}
