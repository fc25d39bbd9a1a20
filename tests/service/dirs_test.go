package service_test

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
)

// TestExecDirectories: RuntimeDirectory=, StateDirectory=,
// CacheDirectory=, LogsDirectory= and ConfigurationDirectory= exist when
// the service starts, with their modes, owned by User= (but the
// configuration directory), and named by $RUNTIME_DIRECTORY and its
// siblings; the runtime directory goes when the service stops, the
// others stay.
func TestExecDirectories(t *testing.T) {
	testenv.RequireRoot(t, "directories under /run, /var/lib, /var/cache, /var/log and /etc, owned by nobody")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	if err := os.Chmod(binDir, 0o755); err != nil { // the probe runs as nobody
		t.Fatal(err)
	}
	name := fmt.Sprintf("sockd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	bases := []string{"/run", "/var/lib", "/var/cache", "/var/log", "/etc"}
	t.Cleanup(func() {
		for _, b := range bases {
			os.RemoveAll(filepath.Join(b, name))
		}
	})
	s := start(t, probeUnits("dirs", "", []string{
		"User=nobody", "Group=nogroup",
		"RuntimeDirectory=" + name + "/a " + name + "/b", "RuntimeDirectoryMode=0750",
		"StateDirectory=" + name, "StateDirectoryMode=0700",
		"CacheDirectory=" + name, "LogsDirectory=" + name + "/log", "LogsDirectoryMode=2750",
		"ConfigurationDirectory=" + name, "ConfigurationDirectoryMode=0755",
	}))
	for _, d := range []string{filepath.Dir(s.Work), s.Work} {
		os.Chmod(d, 0o755)
	}
	os.Chmod(filepath.Join(s.Work, "reports"), 0o777)
	r := askReport(t, s, "dirs")
	wants := map[string]struct {
		variable string
		mode     uint32
		uid      int
	}{
		"/run/" + name + "/a":       {"RUNTIME_DIRECTORY", 0o750, uid},
		"/run/" + name + "/b":       {"RUNTIME_DIRECTORY", 0o750, uid},
		"/var/lib/" + name:          {"STATE_DIRECTORY", 0o700, uid},
		"/var/cache/" + name:        {"CACHE_DIRECTORY", 0o755, uid},
		"/var/log/" + name + "/log": {"LOGS_DIRECTORY", 0o2750, uid},
		"/etc/" + name:              {"CONFIGURATION_DIRECTORY", 0o755, 0},
	}
	for path, w := range wants {
		d, ok := r.Process.Dirs[path]
		if !ok || !d.Exists {
			t.Errorf("%s: the probe did not find it (%s=%q)", path, w.variable, r.env(w.variable))
			continue
		}
		if d.Mode != w.mode || int(d.UID) != w.uid {
			t.Errorf("%s: mode %#o uid %d; want %#o and %d", path, d.Mode, d.UID, w.mode, w.uid)
		}
	}
	if got, want := r.env("RUNTIME_DIRECTORY"), "/run/"+name+"/a:/run/"+name+"/b"; got != want {
		t.Errorf("RUNTIME_DIRECTORY=%q; want %q", got, want)
	}
	if out, code := sockctl(t, s, "stop", "dirs.service"); code != 0 {
		t.Fatalf("sockctl stop: %d %s", code, out)
	}
	for path := range wants {
		_, err := os.Stat(path)
		if gone := os.IsNotExist(err); gone != (filepath.Dir(path) == "/run/"+name) {
			t.Errorf("%s after the stop: %v", path, err)
		}
	}
}

// TestRuntimeDirectoryPreserve: RuntimeDirectoryPreserve=yes keeps the
// runtime directory after the service stops.
func TestRuntimeDirectoryPreserve(t *testing.T) {
	testenv.RequireRoot(t, "a directory under /run")
	name := fmt.Sprintf("sockd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { os.RemoveAll("/run/" + name) })
	s := start(t, probeUnits("keep", "", []string{"RuntimeDirectory=" + name, "RuntimeDirectoryPreserve=yes"}))
	askReport(t, s, "keep")
	if out, code := sockctl(t, s, "stop", "keep.service"); code != 0 {
		t.Fatalf("sockctl stop: %d %s", code, out)
	}
	if _, err := os.Stat("/run/" + name); err != nil {
		t.Errorf("after the stop: %v", err)
	}
}

// TestExecDirectoryFailure: a directory that cannot be made fails the
// start with systemd's exit code for its kind.
func TestExecDirectoryFailure(t *testing.T) {
	testenv.RequireRoot(t, "a file under /run in the way")
	name := fmt.Sprintf("sockd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile("/run/"+name, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove("/run/" + name) })
	s := start(t, probeUnits("blocked", "", []string{"RuntimeDirectory=" + name + "/sub"}))
	sockctl(t, s, "start", "blocked.service")
	if !contains(s.LogText(), "233/RUNTIME_DIRECTORY: mkdir /run/"+name+": not a directory") {
		t.Errorf("the log does not show 233/RUNTIME_DIRECTORY:\n%s", s.LogText())
	}
}
