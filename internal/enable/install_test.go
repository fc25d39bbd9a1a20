package enable

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadInstall(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.socket")
	text := "[Socket]\nWantedBy=not-this.target\n[Install]\n; comment\nWantedBy=a.target \\\n b.target\nWantedBy=\nWantedBy=c.target\nAlias=x2.socket\nAlso=y.service z.service\nDefaultInstance=inst\nUpheldBy=u.target\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := readInstall(p)
	if err != nil {
		t.Fatal(err)
	}
	want := install{WantedBy: []string{"c.target"}, Alias: []string{"x2.socket"}, Also: []string{"y.service", "z.service"}, DefaultInstance: "inst"}
	if !slices.Equal(in.WantedBy, want.WantedBy) || !slices.Equal(in.Alias, want.Alias) || !slices.Equal(in.Also, want.Also) || in.DefaultInstance != want.DefaultInstance || in.RequiredBy != nil {
		t.Errorf("readInstall = %+v; want %+v (an empty WantedBy= resets the list)", in, want)
	}
}

func FuzzReadInstall(f *testing.F) {
	f.Add("[Install]\nWantedBy=a.target\n")
	f.Add("[Install]\nWantedBy=a \\\n")
	f.Add("[Install]\nnot an assignment\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(dir, "f.socket")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		readInstall(p) // must not panic
	})
}
