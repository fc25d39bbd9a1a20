package sandbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

var binDir string

// TestMain builds sockd and the probe outside /tmp (under /run when
// root): PrivateTmp= hides /tmp from the service, and systemd too looks
// up the program after the mounts.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getuid() == 0 {
		dir, err := os.MkdirTemp("/run", "s") // short: Unix socket paths below it
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Setenv("TMPDIR", dir)
		defer os.RemoveAll(dir)
	}
	d, err := e2e.Build(nil, "github.com/sockd/sockd/cmd/sockd", "github.com/sockd/sockd/tests/probe")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries for the tests:", err)
		return 1
	}
	defer os.RemoveAll(d)
	binDir = d
	return m.Run()
}

// report is the part of the probe's report these tests read.
type report struct {
	Pid     int            `json:"pid"`
	Sandbox *sandboxReport `json:"sandbox"`
}

type sandboxReport struct {
	Status     map[string]string `json:"status"`
	Mountinfo  []string          `json:"mountinfo"`
	Attempts   map[string]string `json:"attempts"`
	TmpEntries []string          `json:"tmp_entries"`
	DevBlock   []string          `json:"dev_block"`
	DevEntries []string          `json:"dev_entries"`
	Interfaces []string          `json:"interfaces"`
	Hostname   string            `json:"hostname"`
	Namespaces map[string]string `json:"namespaces"`
	UIDMap     string            `json:"uid_map"`
	SecureBits int               `json:"securebits"`
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
}

// probe runs the probe as a socket-activated service with the given
// [Service] lines ($REP: the report directory, $BIN: the probe's; a
// first line "ExecStart=…" replaces the default one), connects once, checks the answer (so the service
// served its inherited listener) and returns what it reported.
func probe(t *testing.T, lines ...string) *sandboxReport {
	t.Helper()
	r, _, _ := probeLog(t, lines...)
	return r
}

// probeLog is probe that also returns sockd and the listener's address.
func probeLog(t *testing.T, lines ...string) (*sandboxReport, *e2e.Sockd, string) {
	t.Helper()
	testenv.RequireRoot(t, "namespaces, mounts and seccomp filters of a system service")
	port := e2e.FreePort(t)
	rep := t.TempDir()
	openUp(t, rep)
	svc := []string{"[Service]", "Type=exec"}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "ExecStart=") {
		svc = append(svc, "ExecStart=$BIN/probe -report $REP -sandbox -conns 1")
	}
	svc = append(svc, lines...)
	s := e2e.Start(t, e2e.Options{Binary: binDir + "/sockd", Vars: [][2]string{{"$REP", rep}, {"$BIN", binDir}}}, map[string]string{
		"p.socket":  fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port),
		"p.service": strings.Join(svc, "\n") + "\n",
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	answer, err := dial(addr)
	if err != nil {
		t.Fatalf("%v; sockd's log:\n%s", err, s.LogText())
	}
	if !strings.HasPrefix(answer, "probe ") {
		t.Fatalf("answer %q; want \"probe PID p.socket\"; sockd's log:\n%s", answer, s.LogText())
	}
	files, _ := filepath.Glob(filepath.Join(rep, "report-*.json"))
	if len(files) != 1 {
		t.Fatalf("%d reports; sockd's log:\n%s", len(files), s.LogText())
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil || r.Sandbox == nil {
		t.Fatalf("report %s: %v", data, err)
	}
	return r.Sandbox, s, addr
}

// openUp lets a service with User=nobody run the probe and write its
// report: the temporary directories are 0700.
func openUp(t *testing.T, rep string) {
	t.Helper()
	for d := filepath.Dir(rep); d != "/" && d != "/run"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(binDir, 0o755)
	if err := os.Chmod(rep, 0o777); err != nil {
		t.Fatal(err)
	}
}

// dial connects, closes its side and reads the answer.
func dial(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.(*net.TCPConn).CloseWrite()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// failedStart runs a service that must fail before its exec and returns
// sockd's log.
func failedStart(t *testing.T, want string, lines ...string) {
	t.Helper()
	testenv.RequireRoot(t, "namespaces, mounts and seccomp filters of a system service")
	port := e2e.FreePort(t)
	svc := append([]string{"[Service]", "Type=exec", "ExecStart=" + binDir + "/probe -report /nonexistent"}, lines...)
	s := e2e.Start(t, e2e.Options{Binary: binDir + "/sockd"}, map[string]string{
		"p.socket":  fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port),
		"p.service": strings.Join(svc, "\n") + "\n",
	})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.LogText(), want) {
			return
		}
	}
	t.Fatalf("sockd's log lacks %q:\n%s", want, s.LogText())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mountedAt returns the mountinfo options of the last mount at path.
func mountedAt(r *sandboxReport, path string) (string, bool) {
	opts, ok := "", false
	for _, m := range r.Mountinfo {
		if p, o, _ := strings.Cut(m, " "); p == path {
			opts, ok = o, true
		}
	}
	return opts, ok
}

func readOnly(opts string) bool { return strings.HasPrefix(opts, "ro,") || opts == "ro" }
