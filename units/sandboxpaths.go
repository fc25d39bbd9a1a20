package units

import (
	"fmt"
	"path"
	"strings"
)

// parsePathEntry parses one word of ReadWritePaths= and the like.
func parsePathEntry(w string) (PathEntry, error) {
	var e PathEntry
	for len(w) > 0 && (w[0] == '-' || w[0] == '+') {
		if w[0] == '-' {
			e.Optional = true
		}
		w = w[1:]
	}
	if err := checkSandboxPath(w); err != nil {
		return e, err
	}
	e.Path = path.Clean(w)
	return e, nil
}

// checkSandboxPath requires an absolute, normalized path.
func checkSandboxPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q is not absolute", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == "." || c == ".." {
			return fmt.Errorf("path %q is not normalized", p)
		}
	}
	return nil
}

// tmpfsOptions are the mount options TemporaryFileSystem= accepts.
var tmpfsOptions = []string{"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
	"mode", "size", "nr_inodes", "nr_blocks", "uid", "gid", "huge", "mpol", "strictatime", "noatime"}

// parseTmpFS parses one TemporaryFileSystem= word.
func parseTmpFS(w string) (TmpFS, error) {
	p, opts, _ := strings.Cut(w, ":")
	if err := checkSandboxPath(p); err != nil {
		return TmpFS{}, err
	}
	for _, o := range strings.Split(opts, ",") {
		k, _, _ := strings.Cut(o, "=")
		if o != "" && !inList(tmpfsOptions, k) {
			return TmpFS{}, fmt.Errorf("unknown tmpfs option %q", o)
		}
	}
	return TmpFS{Path: path.Clean(p), Options: opts}, nil
}

// parseBindPath parses one BindPaths= word.
func parseBindPath(w string, ro bool) (BindPath, error) {
	b := BindPath{ReadOnly: ro}
	w, b.Optional = strings.CutPrefix(w, "-")
	parts := strings.Split(w, ":")
	if len(parts) > 3 {
		return b, fmt.Errorf("%q: too many \":\"", w)
	}
	b.Source, b.Dest = parts[0], parts[0]
	if len(parts) > 1 {
		b.Dest = parts[1]
	}
	if len(parts) == 3 {
		switch parts[2] {
		case "rbind":
		case "norbind":
			b.NonRecursive = true
		default:
			return b, fmt.Errorf("%q: unknown option %q, want rbind or norbind", w, parts[2])
		}
	}
	for _, p := range []string{b.Source, b.Dest} {
		if err := checkSandboxPath(p); err != nil {
			return b, err
		}
	}
	b.Source, b.Dest = path.Clean(b.Source), path.Clean(b.Dest)
	return b, nil
}

// sandboxErrors checks the rules that span sandbox directives: a path
// both writable and read-only or inaccessible by the unit's own lists
// (systemd would silently keep the stricter one, which is never what the
// writer meant).
func sandboxErrors(u *Unit) ErrorList {
	var errs ErrorList
	s := &u.Service.Sandbox
	rw := map[string]bool{}
	for _, e := range s.ReadWritePaths {
		rw[e.Path] = true
	}
	for _, l := range []struct {
		name  string
		paths []PathEntry
	}{{"ReadOnlyPaths", s.ReadOnlyPaths}, {"InaccessiblePaths", s.InaccessiblePaths}} {
		for _, e := range l.paths {
			if rw[e.Path] {
				errs = append(errs, Errorf(positionOf(u, "Service", l.name), "%s is also in ReadWritePaths=", e.Path))
			}
		}
	}
	return errs
}
