package unitdir

import (
	"sort"
	"strings"

	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/systemdfile"
)

// Template socket units (NAME@.socket) are not units: sockd runs their
// instances, NAME@INSTANCE.socket, found as files (enablement links) in
// the unit directories or started by name (LoadInstance). Load verifies
// each template as `systemd-analyze verify` does, by loading the instance
// systemdfile.TemplateTestInstance; its problems make the template
// invalid, under the template's name.

// splitTemplates removes the template sockets from sources and returns
// their names ("web@"), sorted.
func splitTemplates(sources map[string]source) []string {
	var out []string
	for name, src := range sources {
		if src.format == "socket" && systemdfile.IsTemplateSocket(name) {
			out = append(out, name)
			delete(sources, name)
		}
	}
	sort.Strings(out)
	return out
}

// verifyTemplates loads each template as its test instance: a valid one
// goes to r.Templates, the problems of another to r.Invalid.
func verifyTemplates(r *Result, names []string, finder *systemdfile.DirFinder, env units.SpecifierEnv) {
	for _, name := range names {
		u, err := loadOne(name+systemdfile.TemplateTestInstance, source{format: "socket"}, finder, env)
		if err != nil {
			r.Invalid[name] = units.Errors(err)
			continue
		}
		u.Where = nil
		r.Templates = append(r.Templates, u)
	}
}

// LoadInstance loads the instance name ("web@1", or "web@1.socket") of a
// template socket unit found in dirs, for a unit started by name. It
// returns the unit, validated, or the problems found.
func LoadInstance(dirs []string, name string, env units.SpecifierEnv) (*units.Unit, error) {
	name = strings.TrimSuffix(name, ".socket")
	u, err := loadOne(name, source{format: "socket"}, systemdfile.NewDirFinder(dirs), env)
	if err != nil {
		return nil, err
	}
	u.Where = nil
	return u, nil
}
