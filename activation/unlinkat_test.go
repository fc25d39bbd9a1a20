package activation

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenDirRefusesSymlinks: both ways of opening a directory without
// following symlinks (openat2, and the walk for kernels without it)
// refuse a symlink anywhere on the path.
func TestOpenDirRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.MkdirAll(filepath.Join(real, "sub"), 0o755)
	os.Symlink(real, filepath.Join(dir, "link"))
	open := map[string]func(string) (int, error){
		"openDir": openDir,
		"walk":    func(d string) (int, error) { return walkNoFollow(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC) },
	}
	for name, f := range open {
		fd, err := f(filepath.Join(real, "sub"))
		if err != nil {
			t.Errorf("%s of a plain path: %v", name, err)
		} else {
			unix.Close(fd)
		}
		for _, p := range []string{filepath.Join(dir, "link"), filepath.Join(dir, "link", "sub")} {
			if fd, err := f(p); err != unix.ELOOP && err != unix.ENOTDIR {
				if err == nil {
					unix.Close(fd)
				}
				t.Errorf("%s(%s) through a symlink: %v; want ELOOP or ENOTDIR", name, p, err)
			}
		}
	}
}

// TestUnlinkIfThroughLegitimateSymlink: a node bound under a directory
// reached through a symlink that was there at bind time (as /var/run) is
// still removed, since its directory is the one recorded; through a
// symlink that now leads elsewhere, nothing is removed.
func TestUnlinkIfThroughLegitimateSymlink(t *testing.T) {
	dir := t.TempDir()
	real, other := filepath.Join(dir, "real"), filepath.Join(dir, "other")
	os.Mkdir(real, 0o755)
	os.Mkdir(other, 0o755)
	os.Symlink(real, filepath.Join(dir, "run"))
	path := filepath.Join(dir, "run", "x")
	os.WriteFile(path, nil, 0o600)
	os.WriteFile(filepath.Join(other, "x"), nil, 0o600)
	parent, err := parentID(path)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Lstat(path, &st)
	// The symlink now leads to another directory with a file of that name.
	os.Remove(filepath.Join(dir, "run"))
	os.Symlink(other, filepath.Join(dir, "run"))
	if err := unlinkIf(path, parent, idOf(&st), ""); err == nil {
		t.Error("unlinkIf through a symlink that changed: no error")
	}
	if !exists(filepath.Join(other, "x")) {
		t.Fatal("unlinkIf removed a file in the directory the symlink now leads to")
	}
	os.Remove(filepath.Join(dir, "run"))
	os.Symlink(real, filepath.Join(dir, "run"))
	if err := unlinkIf(path, parent, idOf(&st), ""); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(real, "x")) {
		t.Error("the node under a legitimate symlink was not removed")
	}
}
