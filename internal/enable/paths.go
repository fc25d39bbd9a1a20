package enable

import (
	"path/filepath"
	"slices"
)

// Paths is systemd's unit search path for the system manager, under a
// root directory.
type Paths struct {
	// Root is the directory the paths are under ("/" for the running
	// system).
	Root string
	// Config is where enable, disable, mask and unmask write:
	// /etc/systemd/system.
	Config string
	// Runtime is /run/systemd/system, whose links count as
	// "enabled-runtime" and "masked-runtime".
	Runtime string
	// Search is every unit directory, highest priority first.
	Search []string
}

// searchPath is systemd's system unit path (systemd.unit(5), "Unit File
// Load Path"), highest priority first, without the directories that only
// systemd itself writes (generators, transient units, the .control
// directories).
var searchPath = []string{
	"/etc/systemd/system",
	"/run/systemd/system",
	"/usr/local/lib/systemd/system",
	"/lib/systemd/system",
	"/usr/lib/systemd/system",
}

// NewPaths returns the search path under root ("" means "/").
func NewPaths(root string) Paths {
	if root == "" {
		root = "/"
	}
	p := Paths{Root: root}
	for _, d := range searchPath {
		p.Search = append(p.Search, filepath.Join(root, d))
	}
	p.Config, p.Runtime = p.Search[0], p.Search[1]
	return p
}

// LowestFirst returns the search path lowest priority first, the order
// sockd's unit loader takes directories in.
func (p Paths) LowestFirst() []string {
	out := slices.Clone(p.Search)
	slices.Reverse(out)
	return out
}

// inRoot returns p's path as seen from inside the root: what a symlink
// made under the root points to.
func (p Paths) inRoot(path string) string {
	rel, err := filepath.Rel(p.Root, path)
	if err != nil {
		return path
	}
	return "/" + rel
}

// underRoot returns the path under the root of target, a path as seen
// from inside it (a symlink's target).
func (p Paths) underRoot(target string) string {
	if !filepath.IsAbs(target) {
		return target
	}
	return filepath.Join(p.Root, target)
}
