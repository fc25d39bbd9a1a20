package tomlfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

// testEnv fixes the specifiers that depend on the host.
var testEnv = units.SpecifierEnv{
	RuntimeDir: "/run", Home: "/root", User: "root", UID: "0",
	Group: "root", GID: "0", Hostname: "host.example", Kernel: "6.1.0",
}

// loadText writes text to DIR/name.toml and loads it. The errors are
// returned one a line, with the directory left out of their paths.
func loadText(t *testing.T, name, text string) (*units.Unit, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err := Load(path, testEnv)
	if err == nil {
		return u, ""
	}
	return u, strings.ReplaceAll(err.Error(), dir+"/", "")
}

// mustLoad loads text and fails the test on any error.
func mustLoad(t *testing.T, name, text string) *units.Unit {
	t.Helper()
	u, errs := loadText(t, name, text)
	if errs != "" {
		t.Fatalf("Load:\n%s\n--- from ---\n%s", errs, text)
	}
	return u
}

// systemdUnit builds the unit that name.socket and its service, written
// in systemd syntax, give: "[Section]" headers and "Key=Value" lines,
// without continuations or comments.
func systemdUnit(t *testing.T, name, socket, service string) *units.Unit {
	t.Helper()
	b := units.NewBuilder(name, testEnv)
	applySystemd(t, b, name+".socket", "Socket", socket)
	applySystemd(t, b, b.Socket().ServiceName(name), "Service", service)
	u, err := b.Finish()
	if err != nil {
		t.Fatalf("systemd unit: %v", err)
	}
	return u
}

func applySystemd(t *testing.T, b *units.Builder, unitFile, section, text string) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: no '=' in %q", unitFile, i+1, line)
		}
		pos := units.Position{File: unitFile, Line: i + 1, Directive: key}
		b.Apply(unitFile, units.Assignment{Section: section, Directive: key, Value: value, Pos: pos})
	}
}

// diffUnits shows two units as JSON, side by side where they differ.
func diffUnits(a, b *units.Unit) string {
	ja, _ := json.MarshalIndent(withoutWhere(a), "", "  ")
	jb, _ := json.MarshalIndent(withoutWhere(b), "", "  ")
	la, lb := strings.Split(string(ja), "\n"), strings.Split(string(jb), "\n")
	var out strings.Builder
	for i := 0; i < max(len(la), len(lb)); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			fmt.Fprintf(&out, "toml:    %s\nsystemd: %s\n", x, y)
		}
	}
	return out.String()
}

func withoutWhere(u *units.Unit) units.Unit {
	c := *u
	c.Files, c.Where = nil, nil
	return c
}
