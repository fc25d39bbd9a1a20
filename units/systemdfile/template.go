package systemdfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sockd/sockd/units"
)

// Template socket units (systemd.unit(5), "templates"): a file
// NAME@.socket describes every socket unit NAME@INSTANCE.socket. An
// instance is loaded from NAME@INSTANCE.socket when a directory has that
// file (an enablement link to the template, usually), else from the
// template itself, with %i, %I, %n… naming the instance. The service it
// activates is, by default, NAME@INSTANCE.service, read the same way from
// NAME@INSTANCE.service or NAME@.service. Each instance is a unit of its
// own, with its own listeners.

// TemplateTestInstance is the instance `sockd --check` loads a template
// socket unit with, to verify it, as `systemd-analyze verify` does.
const TemplateTestInstance = "test_instance"

// IsTemplateSocket reports whether name ("web@.socket" or "web@") names a
// template socket unit rather than a unit.
func IsTemplateSocket(name string) bool {
	stem := strings.TrimSuffix(name, ".socket")
	return strings.HasSuffix(stem, "@") && strings.Count(stem, "@") == 1
}

// findUnitFile finds the file of name. For an instance
// ("web@1.socket") that no directory holds, it falls back to its
// template ("web@.socket"); the returned UnitFile keeps the template's
// path and drop-ins, and the instance's own drop-ins (web@1.socket.d)
// after them.
func findUnitFile(find Finder, name string) (UnitFile, error) {
	f, err := find.Find(name)
	n, perr := units.ParseUnitName(name)
	var nf *NotFoundError
	if err == nil || perr != nil || !n.Template || n.Instance == "" || !errors.As(err, &nf) {
		return f, err
	}
	tmpl, terr := find.Find(units.InstanceName(name, ""))
	if terr != nil {
		if errors.As(terr, new(*NotFoundError)) {
			return UnitFile{}, &instanceNotFound{nf, units.InstanceName(name, "")}
		}
		return UnitFile{}, terr
	}
	if d, ok := find.(*DirFinder); ok {
		own, err := d.dropIns(name + ".d")
		if err != nil {
			return UnitFile{}, err
		}
		tmpl.DropIns = append(tmpl.DropIns, own...)
	}
	tmpl.Name = name // specifiers name the instance
	return tmpl, nil
}

// instanceNotFound says that neither an instance's file nor its
// template's exists.
type instanceNotFound struct {
	*NotFoundError
	template string
}

func (e *instanceNotFound) Error() string {
	return fmt.Sprintf("%s not found, nor its template %s (searched %s)", e.Name, e.template, strings.Join(e.Searched, ", "))
}

func (e *instanceNotFound) Unwrap() error { return e.NotFoundError }
