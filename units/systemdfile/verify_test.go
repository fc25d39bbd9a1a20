package systemdfile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

// The differential test runs `systemd-analyze verify` (systemd 252 or
// later; no PID 1 needed) and sockd's Load on every sample in
// testdata/verify, each a directory holding sockdtest.socket, its service
// and maybe drop-ins. Samples named good-* must pass both; for the others
// the lines systemd complains about must be a subset of the lines sockd
// rejects. sockd is stricter: systemd warns and carries on past most
// problems that sockd refuses, and stops reading a file at a bad section
// header where sockd goes on and reports more.
//
// Where the two differ in what a line number means, the test maps
// systemd's to sockd's:
//
//   - A continued line: systemd reports its last physical line (or one
//     past the end of the file, when the file ends inside it), sockd its
//     first.
//   - An unknown section: systemd reports the header and ignores the
//     section; sockd reports each assignment in it, so the header maps to
//     the section's first assignment. An unknown section with nothing in
//     it is an exception: systemd warns, sockd has nothing to refuse.
//
// Other lines systemd rejects and sockd accepts on purpose are listed in
// the sample's EXCEPTIONS file, one "file:line reason" a line.
//
// systemd's messages without a line (a missing service, "Unit … failed to
// load properly") are not compared.

// sampleUnit is the socket unit every sample defines.
const sampleUnit = "sockdtest.socket"

var systemdLine = regexp.MustCompile(`^(/[^:]+):(\d+): (.*)$`)

func TestVerifyAgainstSystemd(t *testing.T) {
	analyze := testenv.RequireProgram(t, "systemd-analyze") // the differential test
	samples, err := filepath.Glob(filepath.Join("testdata", "verify", "*"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples in testdata/verify: %v", err)
	}
	for _, sample := range samples {
		name := filepath.Base(sample)
		t.Run(name, func(t *testing.T) {
			dir := copySample(t, sample)
			theirs := systemdLines(t, analyze, dir)
			ours := sockdLines(t, dir)
			t.Logf("systemd: %v", keys(theirs))
			t.Logf("sockd:   %v", keys(ours))
			if strings.HasPrefix(name, "good-") {
				if len(theirs)+len(ours) > 0 {
					t.Errorf("a good sample has complaints:\nsystemd: %q\nsockd:   %q", theirs, ours)
				}
				return
			}
			if len(theirs) == 0 {
				t.Errorf("systemd finds nothing wrong with a bad sample")
			}
			allowed := exceptions(t, sample)
			for where, msg := range theirs {
				if _, ok := ours[where]; ok || allowed[where] {
					continue
				}
				if !isEmptyUnknownSection(t, dir, where, msg) {
					t.Errorf("systemd rejects %s (%s); sockd accepts it", where, msg)
				}
			}
		})
	}
}

// exceptions reads the sample's EXCEPTIONS file, if any.
func exceptions(t *testing.T, sample string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sample, "EXCEPTIONS"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if where, _, _ := strings.Cut(l, " "); where != "" && !strings.HasPrefix(where, "#") {
			out[where] = true
		}
	}
	return out
}

// copySample copies a sample directory into a temporary directory, so
// that the paths both tools print are known and nothing else is beside
// it.
func copySample(t *testing.T, sample string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(sample, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(sample, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// systemdLines runs systemd-analyze verify and returns "file:line" (file
// relative to dir, line as sockd counts it) → message.
func systemdLines(t *testing.T, analyze, dir string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, analyze, "verify", "--man=no", "--recursive-errors=no", filepath.Join(dir, sampleUnit))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_TARGET=console", "SYSTEMD_LOG_COLOR=0", "SYSTEMD_LOG_LOCATION=0", "SYSTEMD_LOG_TIME=0")
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("systemd-analyze: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze verify:\n%s", out)
	lines := map[string]string{}
	for _, l := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
		m := systemdLine.FindStringSubmatch(l)
		if m == nil || !strings.HasPrefix(m[1], dir+"/") {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		n = sockdLineOf(t, m[1], n, m[3])
		lines[relPos(dir, m[1], n)] = m[3]
	}
	return lines
}

// sockdLineOf maps the line systemd reported a message at to the line
// sockd reports the same problem at (see the comment at the top).
func sockdLineOf(t *testing.T, path string, n int, msg string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := lexFile(path, data)
	if first, ok := l.firstLine[n]; ok {
		n = first
	}
	if strings.HasPrefix(msg, "Unknown section ") {
		for _, e := range l.entries {
			if e.line > n {
				return e.line
			}
		}
	}
	return n
}

// isEmptyUnknownSection reports whether systemd's complaint is about an
// unknown section that holds no assignment.
func isEmptyUnknownSection(t *testing.T, dir, where, msg string) bool {
	t.Helper()
	if !strings.HasPrefix(msg, "Unknown section ") {
		return false
	}
	file, line, _ := strings.Cut(where, ":")
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := lex(file, data)
	for _, e := range entries {
		if strconv.Itoa(e.line) == line {
			return false
		}
	}
	return true
}

// sockdLines loads the sample with sockd and returns "file:line" →
// message for every error that has a line.
func sockdLines(t *testing.T, dir string) map[string]string {
	t.Helper()
	u, err := Load(sampleUnit, NewDirFinder([]string{dir}), testEnv)
	if u == nil && err != nil {
		t.Fatalf("Load: %v", err)
	}
	lines := map[string]string{}
	for _, e := range units.Errors(err) {
		var ue *units.Error
		if !errors.As(e, &ue) || ue.Pos.Line == 0 {
			t.Logf("sockd, without a line: %v", e)
			continue
		}
		lines[relPos(dir, ue.Pos.File, ue.Pos.Line)] = ue.Err.Error()
	}
	return lines
}

func relPos(dir, path string, line int) string {
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		rel = path
	}
	return rel + ":" + strconv.Itoa(line)
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
