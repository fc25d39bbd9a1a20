package condition

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

func pathExists(p string) (bool, error) {
	_, err := os.Stat(p)
	return err == nil, ignoreNotExist(err)
}

func pathExistsGlob(p string) (bool, error) {
	m, err := filepath.Glob(p)
	return len(m) > 0, err
}

func pathIsDirectory(p string) (bool, error) {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir(), ignoreNotExist(err)
}

func pathIsSymlink(p string) (bool, error) {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0, ignoreNotExist(err)
}

// pathIsMountPoint reports whether p (symlinks resolved) is a mount point
// in sockd's mount namespace.
func pathIsMountPoint(p string) (bool, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false, ignoreNotExist(err)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == real {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func pathIsReadWrite(p string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return false, ignoreNotExist(err)
	}
	return st.Flags&unix.ST_RDONLY == 0, nil
}

// directoryNotEmpty ignores hidden and backup files, as systemd's
// dir_is_empty(…, ignore_hidden_or_backup=true) does.
func directoryNotEmpty(p string) (bool, error) {
	es, err := os.ReadDir(p)
	if err != nil {
		return false, ignoreNotExist(err)
	}
	for _, e := range es {
		n := e.Name()
		if !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, "~") {
			return true, nil
		}
	}
	return false, nil
}

func fileNotEmpty(p string) (bool, error) {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0, ignoreNotExist(err)
}

func fileIsExecutable(p string) (bool, error) {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0, ignoreNotExist(err)
}

// needsUpdate is true when /usr was modified after the .updated stamp
// of p (/etc or /var), as systemd-update-done records it.
func needsUpdate(p string) (bool, error) {
	if p != "/etc" && p != "/var" {
		return false, fmt.Errorf("ConditionNeedsUpdate= takes /etc or /var")
	}
	usr, err := os.Stat("/usr")
	if err != nil {
		return false, err
	}
	stamp, err := os.Stat(filepath.Join(p, ".updated"))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return usr.ModTime().After(stamp.ModTime()), nil
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
