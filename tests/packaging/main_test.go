// Package packaging tests what packaging/build makes, as a user gets it:
// the .deb installed with dpkg, its man pages, version and completions;
// sockd's service definitions under the real supervisors Debian has;
// sockd --systemd-units on a real Debian package's enabled socket unit;
// and the container image's root file system with sockd as PID 1.
package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	repo    string // the repository's root
	dist    string // packaging/dist: the packages, stage/, rootfs/, example/
	version string // what sockd --version must say
	buildOK bool
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "packaging tests:", err)
		return 1
	}
	repo, dist = root, filepath.Join(root, "packaging", "dist")
	out, err := exec.Command("git", "-C", repo, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "packaging tests: git describe:", err)
		return 1
	}
	version = strings.TrimSpace(string(out))
	// One build for every test: the three packages and both image layers.
	cmd := exec.Command(filepath.Join(repo, "packaging", "build"), "deb", "rpm", "apk", "rootfs", "example")
	cmd.Env = append(os.Environ(), "SOCKD_VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "packaging tests: packaging/build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// only returns the one file of dist matching pattern.
func only(t *testing.T, pattern string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dist, pattern))
	if len(matches) != 1 {
		t.Fatalf("packaging/dist/%s: %d files, want 1: %v", pattern, len(matches), matches)
	}
	return matches[0]
}

// run runs a command and returns its combined output, failing the test
// on a non-zero exit.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
