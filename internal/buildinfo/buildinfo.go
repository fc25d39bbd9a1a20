// Package buildinfo owns the version that sockd and sockctl print. A
// release build stamps it with the linker, from `git describe`:
//
//	go build -ldflags "-X github.com/sockd/sockd/internal/buildinfo.version=v1.2.3" ./cmd/...
//
// (packaging/build does). A `go install module@version` build is not
// stamped but records its module version, which Version falls back to;
// a build from a work tree without either says "dev" (with the VCS
// revision when the build recorded one), as sockd always has.
package buildinfo

import "runtime/debug"

// version is set with -ldflags -X at release builds.
var version string

// Version returns the version of this binary: the stamped one, else the
// main module's version from the build information, else "dev" with the
// VCS revision when the build recorded one.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(bi)
}

// fromBuildInfo is Version's fallback, separate so that it can be tested.
func fromBuildInfo(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev + dirty
}

// GoVersion returns the Go release the binary was built with.
func GoVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}
