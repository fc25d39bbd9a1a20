package enable

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sockd/sockd/internal/testenv"
)

// files is a unit tree used by the tests: path under the root → content
// ("->target" makes a symlink).
var files = map[string]string{
	"/lib/systemd/system/web.socket":           "[Socket]\nListenStream=80\n[Install]\nWantedBy=sockets.target\nAlias=www.socket\nAlso=web-admin.socket\n",
	"/lib/systemd/system/web.service":          "[Service]\nExecStart=/bin/true\n",
	"/lib/systemd/system/web-admin.socket":     "[Socket]\nListenStream=81\n[Install]\nWantedBy=sockets.target\n",
	"/lib/systemd/system/db.service":           "[Service]\nExecStart=/bin/true\n[Install]\nAlso=db.socket\n",
	"/lib/systemd/system/db.socket":            "[Socket]\nListenStream=82\n[Install]\n# a comment\nWantedBy=sockets.target \\\n  multi-user.target\n",
	"/lib/systemd/system/static.socket":        "[Socket]\nListenStream=83\n",
	"/lib/systemd/system/t@.socket":            "[Socket]\nListenStream=84\n[Install]\nWantedBy=sockets.target\nDefaultInstance=one\n",
	"/usr/local/lib/systemd/system/req.socket": "[Socket]\nListenStream=85\n[Install]\nRequiredBy=sockets.target\n",
	// deb-systemd-helper's link, as a package's postinst leaves it.
	"/etc/systemd/system/sockets.target.wants/pkg.socket": "->/lib/systemd/system/pkg.socket",
	"/lib/systemd/system/pkg.socket":                      "[Socket]\nListenStream=86\n[Install]\nWantedBy=sockets.target\n",
}

func makeTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// links lists the symlinks under root/etc and root/run as "path -> target".
func links(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, top := range []string{"etc", "run"} {
		filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink != 0 {
				target, _ := os.Readlink(p)
				out = append(out, strings.TrimPrefix(p, root)+" -> "+target)
			}
			return nil
		})
	}
	slices.Sort(out)
	return out
}

var stateUnits = []string{"web.socket", "www.socket", "web-admin.socket", "db.service", "db.socket", "static.socket",
	"t@.socket", "t@one.socket", "t@two.socket", "req.socket", "pkg.socket", "web.service"}

// TestAgainstSystemctl runs the same operations with systemctl --root on
// one tree and with Paths on a twin, and compares the links made and
// every unit's is-enabled state after each step.
func TestAgainstSystemctl(t *testing.T) {
	systemctl := testenv.RequireProgram(t, "systemctl")
	sdRoot, ourRoot := makeTree(t), makeTree(t)
	p := NewPaths(ourRoot)
	steps := []struct {
		verb  string
		units []string
	}{
		{"enable", []string{"web.socket"}},
		{"enable", []string{"db.service"}},
		{"enable", []string{"t@.socket", "t@two.socket", "req.socket"}},
		{"enable", []string{"static.socket"}},
		{"disable", []string{"web.socket"}},
		{"mask", []string{"pkg.socket", "db.socket"}},
		{"enable", []string{"web-admin.socket"}},
		{"disable", []string{"t@two.socket"}},
		{"unmask", []string{"pkg.socket"}},
		{"disable", []string{"t@.socket", "db.service", "pkg.socket"}},
		{"mask", []string{"web.service"}},
		{"unmask", []string{"web.service", "db.socket"}},
	}
	ops := map[string]func(...string) (Result, error){"enable": p.Enable, "disable": p.Disable, "mask": p.Mask, "unmask": p.Unmask}
	for _, s := range steps {
		out, err := exec.Command(systemctl, append([]string{"--root=" + sdRoot, s.verb}, s.units...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("systemctl %s %v: %v\n%s", s.verb, s.units, err, out)
		}
		if _, err := ops[s.verb](s.units...); err != nil {
			t.Fatalf("%s %v: %v", s.verb, s.units, err)
		}
		if got, want := links(t, ourRoot), links(t, sdRoot); !slices.Equal(got, want) {
			t.Errorf("after %s %v: links\n%s\nwant (systemctl)\n%s", s.verb, s.units, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, u := range stateUnits {
			out, _ := exec.Command(systemctl, "--root="+sdRoot, "is-enabled", u).Output()
			want := strings.TrimSpace(string(out))
			got, err := p.State(u)
			if errors.Is(err, ErrNotFound) {
				got = "" // systemctl prints nothing on stdout, and an error
			} else if err != nil {
				got = "error: " + err.Error()
			}
			if got != want {
				t.Errorf("after %s %v: State(%s) = %s; systemctl says %s", s.verb, s.units, u, got, want)
			}
		}
	}
}

func TestStateNotFound(t *testing.T) {
	p := NewPaths(makeTree(t))
	if _, err := p.State("nope.socket"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("State(nope.socket) error = %v; want not found", err)
	}
	if _, err := p.Enable("../../etc/passwd"); err == nil {
		t.Error("Enable accepted a name with a path")
	}
}

func TestWantedSockets(t *testing.T) {
	root := makeTree(t)
	p := NewPaths(root)
	if _, err := p.Enable("web.socket", "req.socket"); err != nil {
		t.Fatal(err)
	}
	// A socket that web.socket wants, statically, from the vendor tree.
	dep := filepath.Join(root, "/lib/systemd/system/web.socket.wants/static.socket")
	os.MkdirAll(filepath.Dir(dep), 0o755)
	if err := os.Symlink("../static.socket", dep); err != nil {
		t.Fatal(err)
	}
	got, err := WantedSockets(p.LowestFirst())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pkg.socket", "req.socket", "static.socket", "web-admin.socket", "web.socket"}
	if !slices.Equal(got, want) {
		t.Errorf("WantedSockets = %v; want %v", got, want)
	}
}
