// Package condition evaluates the Condition*= and Assert*= settings of
// systemd.unit(5) ("Conditions and Asserts") before each start of a
// service, as systemd's condition_test_list does: every condition
// without the "|" prefix must hold; if any has it, at least one of those
// must hold; "!" negates. Conditions are checked before asserts.
//
// The checks look at the host and at sockd itself where systemd looks
// at PID 1 (ConditionUser=, ConditionGroup=, ConditionEnvironment=,
// ConditionCapability=): sockd is the service manager here.
package condition

import (
	"fmt"
	"strings"

	"github.com/sockd/sockd/units"
)

// Result is the outcome of a list of conditions.
type Result struct {
	// OK is true when the start may go on.
	OK bool
	// Assert is true when an assert failed (the start fails), false when
	// a condition failed (the start is skipped) or all held.
	Assert bool
	// Failed is the first check that did not hold, as written
	// ("ConditionPathExists=!/etc/x"), with Err when it could not be
	// evaluated at all.
	Failed string
	Err    error
}

// String describes a failed result as systemctl status does.
func (r Result) String() string {
	if r.OK {
		return "conditions met"
	}
	s := r.Failed + " was not met"
	if r.Err != nil {
		s += ": " + r.Err.Error()
	}
	return s
}

// Check evaluates the conditions, then the asserts, of lists (the socket
// file's and the service file's): the first list that fails decides.
func Check(lists ...[]units.Condition) Result {
	for _, assert := range []bool{false, true} {
		for _, list := range lists {
			var sel []units.Condition
			for _, c := range list {
				if c.Assert == assert {
					sel = append(sel, c)
				}
			}
			if r := checkList(sel); !r.OK {
				r.Assert = assert
				return r
			}
		}
	}
	return Result{OK: true}
}

// checkList is systemd's condition_test_list for one kind.
func checkList(list []units.Condition) Result {
	var triggers []units.Condition
	triggered := false
	for _, c := range list {
		ok, err := test(c)
		if c.Trigger {
			triggers = append(triggers, c)
			triggered = triggered || ok
			continue
		}
		if !ok {
			return Result{Failed: c.String(), Err: err}
		}
	}
	if len(triggers) > 0 && !triggered {
		names := make([]string, len(triggers))
		for i, c := range triggers {
			names[i] = c.String()
		}
		return Result{Failed: strings.Join(names, " and ")}
	}
	return Result{OK: true}
}

// test evaluates one condition, its negation applied; a check that could
// not be made is false (and so true when negated, as in systemd) and
// reports why.
func test(c units.Condition) (bool, error) {
	f, ok := checks[c.Name]
	if !ok {
		return false, fmt.Errorf("unknown check %s", c.Name)
	}
	ok, err := f(c.Param)
	return ok != c.Negate, err
}

// checks are the tests by name; each gets the value without prefixes.
var checks = map[string]func(string) (bool, error){
	"PathExists":             pathExists,
	"PathExistsGlob":         pathExistsGlob,
	"PathIsDirectory":        pathIsDirectory,
	"PathIsSymbolicLink":     pathIsSymlink,
	"PathIsMountPoint":       pathIsMountPoint,
	"PathIsReadWrite":        pathIsReadWrite,
	"DirectoryNotEmpty":      directoryNotEmpty,
	"FileNotEmpty":           fileNotEmpty,
	"FileIsExecutable":       fileIsExecutable,
	"NeedsUpdate":            needsUpdate,
	"FirstBoot":              firstBoot,
	"KernelCommandLine":      kernelCommandLine,
	"KernelVersion":          kernelVersion,
	"Virtualization":         virtualization,
	"Host":                   host,
	"Security":               security,
	"Capability":             capability,
	"ACPower":                acPower,
	"Architecture":           architecture,
	"User":                   isUser,
	"Group":                  inGroup,
	"ControlGroupController": cgroupController,
	"Memory":                 memory,
	"CPUs":                   cpus,
	"CPUFeature":             cpuFeature,
	"OSRelease":              osRelease,
	"Environment":            environment,
}
