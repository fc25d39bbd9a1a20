package enable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// bootTargets are the targets a system boots into whose .wants/ and
// .requires/ directories pull socket units in.
var bootTargets = []string{"sysinit.target", "basic.target", "sockets.target", "multi-user.target", "graphical.target", "default.target"}

// WantedSockets returns the socket units that systemd would start at
// boot from the unit directories dirs: those linked from the .wants/ or
// .requires/ directory of a boot target (sockets.target.wants/ above
// all, where `systemctl enable` and deb-systemd-helper put them) in any
// of the directories, and the socket units those sockets want or
// require in turn (NAME.socket.wants/), sorted and each once. Whether
// each one is masked or exists is for the loader to tell.
func WantedSockets(dirs []string) ([]string, error) {
	seen := map[string]bool{}
	var queue []string
	add := func(dirName string) error {
		for _, dir := range dirs {
			for _, kind := range []string{".wants", ".requires"} {
				names, err := socketsIn(filepath.Join(dir, dirName+kind))
				if err != nil {
					return err
				}
				for _, n := range names {
					if !seen[n] {
						seen[n] = true
						queue = append(queue, n)
					}
				}
			}
		}
		return nil
	}
	for _, t := range bootTargets {
		if err := add(t); err != nil {
			return nil, err
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if err := add(n); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// socketsIn lists the *.socket entries of a .wants/ or .requires/
// directory.
func socketsIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unit directory %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".socket") && !strings.HasPrefix(n, ".") && checkName(n) == nil {
			out = append(out, n)
		}
	}
	return out, nil
}
