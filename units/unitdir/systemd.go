package unitdir

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/systemdfile"
)

// LoadSockets is Load for the named socket units only ("web.socket"),
// found with their services and drop-ins on dirs (lowest priority first)
// as Load finds them: what `sockd --systemd-units` loads from systemd's
// unit search path, where most units are not socket units sockd should
// run (internal/enable says which are enabled). A named socket unit that
// no directory has (a dangling enablement link, left by a package that
// was removed) is listed in Result.NotFound, not as an error: systemd
// skips it too.
func LoadSockets(dirs []string, sockets []string, env units.SpecifierEnv) *Result {
	r := &Result{Invalid: map[string][]error{}}
	finder := systemdfile.NewDirFinder(dirs)
	sources := map[string]source{}
	for _, name := range sockets {
		stem, ok := strings.CutSuffix(name, ".socket")
		if !ok {
			r.Errors = append(r.Errors, fmt.Errorf("%s: not a socket unit", name))
			continue
		}
		if strings.Contains(stem, "@") { // an instance: systemdfile.Load says why it cannot be
			sources[stem] = source{format: "socket"}
			continue
		}
		f, err := finder.Find(name)
		var nf *systemdfile.NotFoundError
		switch {
		case errors.As(err, &nf):
			r.NotFound = append(r.NotFound, name)
			continue
		case err != nil:
			r.Invalid[stem] = []error{fmt.Errorf("socket unit %s: %w", name, err)}
			continue
		}
		sources[stem] = source{path: f.Path, format: "socket"}
	}
	slices.Sort(r.NotFound)
	return r.load(dirs, sources, env)
}
