package units

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 300, 4095, 4096, 4097, 20000} {
		want := bytes.Repeat([]byte("x=1\n"), size/4+1)[:size]
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadFile of %d bytes = %d bytes, %v; want the file", size, len(got), err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v; want ErrNotExist", err)
	}
	var pe *fs.PathError
	if _, err := ReadFile(dir); !errors.As(err, &pe) || pe.Op != "read" || !strings.Contains(err.Error(), "not a regular file (a directory)") {
		t.Errorf("ReadFile of a directory: %v; want read %s: not a regular file (a directory)", err, dir)
	}
}
