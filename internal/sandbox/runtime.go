package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// privateTmps holds the PrivateTmp= directories of each service, shared
// by all its commands (systemd's setup_tmp_dirs()), until ReleaseUnit.
var privateTmps struct {
	sync.Mutex
	dirs map[string][2]string // service name → /tmp and /var/tmp directories
}

// PrivateTmp returns the service's private /tmp and /var/tmp: a
// "tmp" directory (mode 01777) inside a fresh 0700 directory
// sockd-private-NAME-XXXXXX under /tmp and /var/tmp, created on first use.
func PrivateTmp(service string) (tmp, varTmp string, err error) {
	privateTmps.Lock()
	defer privateTmps.Unlock()
	if d, ok := privateTmps.dirs[service]; ok {
		return d[0], d[1], nil
	}
	var out [2]string
	for i, base := range []string{"/tmp", "/var/tmp"} {
		if out[i], err = makePrivateTmp(base, service); err != nil {
			for _, d := range out[:i] {
				os.RemoveAll(filepath.Dir(d))
			}
			return "", "", err
		}
	}
	if privateTmps.dirs == nil {
		privateTmps.dirs = map[string][2]string{}
	}
	privateTmps.dirs[service] = out
	return out[0], out[1], nil
}

func makePrivateTmp(base, service string) (string, error) {
	name := strings.NewReplacer("/", "_", "@", "_").Replace(service)
	top, err := os.MkdirTemp(base, "sockd-private-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("PrivateTmp: %w", err)
	}
	tmp := filepath.Join(top, "tmp")
	if err := os.Mkdir(tmp, 0o700); err == nil {
		err = os.Chmod(tmp, 0o1777)
	}
	if err != nil {
		os.RemoveAll(top)
		return "", fmt.Errorf("PrivateTmp: %w", err)
	}
	return tmp, nil
}

// ReleaseUnit removes the service's PrivateTmp= directories and releases
// its DynamicUser= id, when it has stopped, as systemd does.
func ReleaseUnit(service string) {
	releaseDynamicUser(service)
	privateTmps.Lock()
	d, ok := privateTmps.dirs[service]
	delete(privateTmps.dirs, service)
	privateTmps.Unlock()
	if ok {
		os.RemoveAll(filepath.Dir(d[0]))
		os.RemoveAll(filepath.Dir(d[1]))
	}
}

// EnsureInaccessible creates InaccessibleFile, which the child binds over
// inaccessible files.
func EnsureInaccessible() error {
	if err := os.MkdirAll(filepath.Dir(InaccessibleFile), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(InaccessibleFile, os.O_CREATE|os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	f.Close()
	return os.Chmod(InaccessibleFile, 0)
}
