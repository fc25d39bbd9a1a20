package systemdfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDirFinderFind(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a/web.socket":              webSocket,
		"b/web.socket":              webSocket,
		"a/web.socket.d/1.conf":     "",
		"b/web.socket.d/2.conf":     "",
		"a/web.socket.d/3.conf":     "",
		"b/web.socket.d/3.conf":     devNull,
		"a/web.socket.d/dir.conf/x": "",
		"a/empty.socket":            "",
		"b/null.socket":             devNull,
	})
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "b", "dangling.socket")); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	f := NewDirFinder([]string{a, b})

	got, err := f.Find("web.socket")
	want := UnitFile{
		Name:    "web.socket",
		Path:    filepath.Join(b, "web.socket"),
		DropIns: []string{filepath.Join(a, "web.socket.d", "1.conf"), filepath.Join(b, "web.socket.d", "2.conf")},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Find(web.socket) = %+v, %v; want %+v", got, err, want)
	}
	for _, name := range []string{"empty.socket", "null.socket"} {
		if got, err := f.Find(name); err != nil || !got.Masked {
			t.Errorf("Find(%s) = %+v, %v; want masked", name, got, err)
		}
	}
	if _, err := f.Find("dangling.socket"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Find(dangling.socket): err = %v; want no such file", err)
	}
	_, err = f.Find("other.service")
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Name != "other.service" || !reflect.DeepEqual(nf.Searched, []string{a, b}) {
		t.Errorf("Find(other.service): err = %#v; want a NotFoundError", err)
	}
	if _, err := f.Find("../b/web.socket"); err == nil {
		t.Error("Find(../b/web.socket) succeeded")
	}
}
