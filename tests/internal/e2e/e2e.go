// Package e2e builds sockd and runs it for the end-to-end test packages
// under tests/: one place that writes the unit files, starts the daemon,
// waits until it serves, and stops it when the test ends.
package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Build runs `go build -o DIR/ [flags] pkgs...` into a new temporary
// directory and returns it; pkgs are relative to the calling test's
// directory, as go test runs it.
func Build(flags []string, pkgs ...string) (string, error) {
	dir, err := os.MkdirTemp("", "sockd-e2e-bin-")
	if err != nil {
		return "", err
	}
	args := append(append([]string{"build", "-o", dir + "/"}, flags...), pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return dir, nil
}

// Options say how to run sockd.
type Options struct {
	Binary string      // the sockd to run
	Args   []string    // extra arguments after --units and --runtime-dir
	Extra  []*os.File  // passed as fds 3, 4, … (without LISTEN_FDS)
	Vars   [][2]string // replaced in unit files, besides $WORK
	// RuntimeDir, if set, is the runtime directory instead of WORK/rt.
	RuntimeDir string
}

// Sockd is one running sockd.
type Sockd struct {
	t          *testing.T
	Work       string // unit files (in Work/units) and sockets live here
	RuntimeDir string
	LogPath    string
	cmd        *exec.Cmd
	exit       chan error
	alive      bool
}

// Wait waits up to d for sockd to exit by itself and returns how long it
// took, or -1 if it still runs.
func (s *Sockd) Wait(d time.Duration) time.Duration {
	if !s.alive {
		return 0
	}
	start := time.Now()
	select {
	case <-s.exit:
		s.alive = false
		return time.Since(start)
	case <-time.After(d):
		return -1
	}
}

// ExitCode returns sockd's exit status once it has exited (Wait, Stop),
// else -1.
func (s *Sockd) ExitCode() int {
	if s.alive || s.cmd.ProcessState == nil {
		return -1
	}
	return s.cmd.ProcessState.ExitCode()
}

// Start writes the unit files (name → content, $WORK and opt.Vars
// expanded) and starts sockd on them, waits until it answers on its
// control socket and has logged "sockd ready", and stops it when the
// test ends.
func Start(t *testing.T, opt Options, files map[string]string) *Sockd {
	t.Helper()
	work := t.TempDir()
	s := &Sockd{t: t, Work: work, RuntimeDir: filepath.Join(work, "rt"), LogPath: filepath.Join(work, "sockd.log"), exit: make(chan error, 1)}
	if opt.RuntimeDir != "" {
		s.RuntimeDir = opt.RuntimeDir
	}
	writeUnits(t, filepath.Join(work, "units"), files, append([][2]string{{"$WORK", work}}, opt.Vars...))
	logf, err := os.Create(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--units", filepath.Join(work, "units"), "--runtime-dir", s.RuntimeDir}, opt.Args...)
	s.cmd = exec.Command(opt.Binary, args...)
	s.cmd.Stdout, s.cmd.Stderr, s.cmd.ExtraFiles = logf, logf, opt.Extra
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.alive = true
	go func() { s.exit <- s.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { s.Stop() })
	s.waitReady()
	return s
}

func writeUnits(t *testing.T, dir string, files map[string]string, vars [][2]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for _, v := range vars {
		pairs = append(pairs, v[0], v[1])
	}
	r := strings.NewReplacer(pairs...)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(r.Replace(content)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// waitReady waits (10 s at most) until sockd answers on its control
// socket, which opens before the units are bound, and has logged "sockd
// ready".
func (s *Sockd) waitReady() {
	s.t.Helper()
	sock := filepath.Join(s.RuntimeDir, "control.sock")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			if strings.Contains(s.LogText(), "sockd ready") {
				return
			}
		}
		select {
		case err := <-s.exit:
			s.alive = false
			s.t.Fatalf("sockd exited (%v):\n%s", err, s.LogText())
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.t.Fatalf("sockd is not ready (no control socket at %s or no \"sockd ready\"); its log:\n%s", sock, s.LogText())
}

// LogText returns everything sockd logged so far.
func (s *Sockd) LogText() string {
	data, _ := os.ReadFile(s.LogPath)
	return string(data)
}

// Pid returns sockd's pid.
func (s *Sockd) Pid() int { return s.cmd.Process.Pid }

// Stop stops sockd with SIGINT and waits for it (20 s at most, then it is
// killed and the test fails); it returns how long that took. A data race
// the race detector reported in sockd fails the test. Stopping twice does
// nothing.
func (s *Sockd) Stop() time.Duration {
	if !s.alive {
		return 0
	}
	s.alive = false
	start := time.Now()
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exit:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exit
		s.t.Errorf("sockd did not stop on SIGINT; log:\n%s", s.LogText())
	}
	took := time.Since(start)
	if log := s.LogText(); strings.Contains(log, "WARNING: DATA RACE") {
		s.t.Errorf("the race detector found a data race in sockd:\n%s", log[strings.Index(log, "WARNING: DATA RACE"):])
	}
	return took
}

// Main is a TestMain for packages that need built binaries: it builds
// pkgs (see Build), stores the directory in *dir, runs the tests, removes
// the binaries and exits with the tests' status.
func Main(m *testing.M, dir *string, pkgs ...string) {
	d, err := Build(nil, pkgs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries for the tests:", err)
		os.Exit(1)
	}
	*dir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
