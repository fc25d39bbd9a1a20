package tomlfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

// FuzzLoad loads arbitrary files: Load must not panic or hang, must
// return a unit, and must place every error in the file.
func FuzzLoad(f *testing.F) {
	for _, tt := range valueTests {
		f.Add(tt.toml)
	}
	for _, tt := range errorTests {
		f.Add(tt.toml)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "web.toml")
	f.Fuzz(func(t *testing.T, doc string) {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		u, err := Load(path, testEnv)
		if u == nil {
			t.Fatalf("no unit; error %v", err)
		}
		lines := strings.Count(doc, "\n") + 1
		for _, e := range units.Errors(err) {
			msg := e.Error()
			rest, ok := strings.CutPrefix(msg, path)
			if !ok {
				t.Fatalf("error not placed in the file: %s", msg)
			}
			if n, err := strconv.Atoi(lineOf(rest)); err == nil && (n < 1 || n > lines) {
				t.Fatalf("error on line %d of %d: %s", n, lines, msg)
			}
		}
	})
}

// lineOf returns the line number that starts ":N: …", or "".
func lineOf(s string) string {
	s, ok := strings.CutPrefix(s, ":")
	if !ok {
		return ""
	}
	n, _, _ := strings.Cut(s, ":")
	return n
}
