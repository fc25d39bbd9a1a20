package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

// Real units, unmodified: sockd's unit directory holds symbolic links to
// the files exactly where the Debian packages installed them (as
// `systemctl enable` links them), nothing is copied. .ci/run installs
// uuid-runtime and systemd-journal-remote.

// linkUnits makes a unit directory of links to installed unit files.
func linkUnits(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		testenv.Require(t, fileExists(f), f+" (installed by its Debian package; .ci/run installs it)")
		if err := os.Symlink(f, filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// startOn runs sockd on a unit directory.
func startOn(t *testing.T, units string) *e2e.Sockd {
	return e2e.Start(t, e2e.Options{Binary: binDir + "/sockd", Args: []string{"--units", units}}, map[string]string{})
}

// statusOf reads /proc/PID/status lines of a process found by name.
func statusOf(t *testing.T, comm string) (int, map[string]string) {
	t.Helper()
	out, err := exec.Command("pgrep", "-x", comm).Output()
	if err != nil {
		t.Fatalf("no %s process: %v", comm, err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(out))[0])
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(l, ":")
		st[k] = strings.TrimSpace(v)
	}
	return pid, st
}

var timeUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestRealUUIDD runs uuid-runtime's uuidd.socket and uuidd.service
// (User=uuidd, PrivateUsers=, ProtectSystem=strict, PrivateDevices=,
// SystemCallFilter=, MemoryDenyWriteExecute=, …) and asks uuidd for time
// UUIDs through the activated socket.
func TestRealUUIDD(t *testing.T) {
	testenv.RequireRoot(t, "uuidd.service switches to the uuidd user in a user namespace")
	uuidd := testenv.RequireProgram(t, "uuidd")
	units := linkUnits(t, "/lib/systemd/system/uuidd.socket", "/lib/systemd/system/uuidd.service")
	s := startOn(t, units)
	// uuidd -t asks the running daemon (over /run/uuidd/request) for a
	// time-based UUID and fails if it cannot reach it.
	out, err := exec.Command(uuidd, "-t", "-s", "/run/uuidd/request").CombinedOutput()
	if err != nil {
		t.Fatalf("uuidd -t: %v: %s; sockd's log:\n%s", err, out, s.LogText())
	}
	if u := strings.TrimSpace(lastLine(string(out))); !timeUUID.MatchString(u) {
		t.Fatalf("uuidd -t printed %q; want a time UUID", out)
	}
	pid, st := statusOf(t, "uuidd")
	uidMap, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/uid_map")
	if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" || !strings.HasPrefix(st["Uid"], uidOf(t, "uuidd")+"\t") ||
		len(strings.Fields(string(uidMap))) != 6 {
		t.Errorf("uuidd runs with NoNewPrivs %s, Seccomp %s, Uid %s, uid_map %q; want its sandbox",
			st["NoNewPrivs"], st["Seccomp"], st["Uid"], uidMap)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func uidOf(t *testing.T, name string) string {
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestRealJournalGatewayd runs systemd-journal-remote's
// systemd-journal-gatewayd.socket/.service (DynamicUser=,
// PrivateNetwork=, SystemCallArchitectures=native,
// RestrictAddressFamilies=, ProtectProc=invisible, …) and asks it over
// HTTP for /machine: it serves the listener sockd bound on the host while
// its own network namespace has only lo.
func TestRealJournalGatewayd(t *testing.T) {
	testenv.RequireRoot(t, "the gateway runs as a dynamic user in its own network namespace")
	units := linkUnits(t, "/lib/systemd/system/systemd-journal-gatewayd.socket", "/lib/systemd/system/systemd-journal-gatewayd.service")
	// The unit asks for LimitNOFILE=524288; without CAP_SYS_RESOURCE
	// (this machine's container) sockd sets the closest limit it may, as
	// systemd's setrlimit_closest() does.
	s := startOn(t, units)
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://127.0.0.1:19531/machine")
	if err != nil {
		t.Fatalf("GET /machine: %v; sockd's log:\n%s", err, s.LogText())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m struct {
		MachineID string `json:"machine_id"`
		Hostname  string `json:"hostname"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.MachineID == "" {
		t.Fatalf("GET /machine: %s %q (%v)", resp.Status, body, err)
	}
	pid, st := statusOf(t, "systemd-journal")
	uid, _ := strconv.Atoi(strings.Fields(st["Uid"])[0])
	net, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if uid < 61184 || uid > 65519 || st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" || strings.Count(string(net), ":") != 1 {
		t.Errorf("gatewayd runs as uid %d, NoNewPrivs %s, Seccomp %s, interfaces %q; want a dynamic user, its filters, only lo",
			uid, st["NoNewPrivs"], st["Seccomp"], net)
	}
}
