package units

import (
	"fmt"
	"strings"
)

// Condition is one Condition*= or Assert*= of [Unit] (systemd.unit(5)
// "Conditions and Asserts"), checked before each start of the service:
// a failed condition skips the start, a failed assert fails it.
type Condition struct {
	Name    string // the check without its prefix: "PathExists", "Virtualization", …
	Assert  bool   // Assert*= rather than Condition*=
	Trigger bool   // the "|" prefix: at least one triggering condition must hold
	Negate  bool   // the "!" prefix
	Param   string // the value after the prefixes, specifiers expanded
}

// String returns the directive as written: "ConditionPathExists=|!/etc/x".
func (c Condition) String() string {
	prefix := "Condition"
	if c.Assert {
		prefix = "Assert"
	}
	s := prefix + c.Name + "="
	if c.Trigger {
		s += "|"
	}
	if c.Negate {
		s += "!"
	}
	return s + c.Param
}

// ConditionChecks are the checks sockd evaluates, each usable as
// Condition*= and Assert*=. Those of systemd that need PID 1's state
// (ConditionCredential=, ConditionPathIsEncrypted=, ConditionFirmware=,
// the *Pressure= ones) are refused with a reason (unsupportedChecks).
var ConditionChecks = []string{
	"ACPower", "Architecture", "Capability", "ControlGroupController", "CPUFeature", "CPUs",
	"DirectoryNotEmpty", "Environment", "FileIsExecutable", "FileNotEmpty", "FirstBoot", "Group",
	"Host", "KernelCommandLine", "KernelVersion", "Memory", "NeedsUpdate", "OSRelease",
	"PathExists", "PathExistsGlob", "PathIsDirectory", "PathIsMountPoint", "PathIsReadWrite",
	"PathIsSymbolicLink", "Security", "User", "Virtualization",
}

var unsupportedChecks = map[string]string{
	"Credential":      "sockd passes no credentials (LoadCredential=)",
	"PathIsEncrypted": "sockd does not inspect the block device stack",
	"Firmware":        "sockd does not read firmware tables",
	"MemoryPressure":  "sockd does not read PSI",
	"CPUPressure":     "sockd does not read PSI",
	"IOPressure":      "sockd does not read PSI",
}

// pathChecks take an absolute path.
var pathChecks = map[string]bool{
	"DirectoryNotEmpty": true, "FileIsExecutable": true, "FileNotEmpty": true, "NeedsUpdate": true,
	"PathExists": true, "PathExistsGlob": true, "PathIsDirectory": true, "PathIsMountPoint": true,
	"PathIsReadWrite": true, "PathIsSymbolicLink": true,
}

func conditionDirectives() []directive {
	var t []directive
	for _, prefix := range []string{"Condition", "Assert"} {
		for _, name := range ConditionChecks {
			t = append(t, directive{DirectiveInfo{"Unit", prefix + name, KindList}, nil, nil})
		}
	}
	return t
}

// splitCondition returns the check of a Condition*= or Assert*= name.
func splitCondition(directive string) (check string, assert, ok bool) {
	if c, ok := strings.CutPrefix(directive, "Condition"); ok {
		return c, false, true
	}
	if c, ok := strings.CutPrefix(directive, "Assert"); ok {
		return c, true, true
	}
	return "", false, false
}

// unsupportedCondition explains a Condition*= or Assert*= sockd does
// not evaluate, or returns nil for a name that is not one.
func unsupportedCondition(directive string) error {
	check, _, ok := splitCondition(directive)
	if !ok {
		return nil
	}
	if why, ok := unsupportedChecks[check]; ok {
		return fmt.Errorf("not supported by sockd: %s", why)
	}
	return nil
}

// applyCondition adds a condition of the service file; an empty value
// resets every condition (or assert) given so far, as in systemd.
func (b *Builder) applyCondition(kind, directive, value string) error {
	check, assert, _ := splitCondition(directive)
	list := &b.unit.Service.Conditions
	if kind == "socket" {
		list = &b.unit.Socket.Conditions
	}
	if value == "" {
		kept := (*list)[:0]
		for _, c := range *list {
			if c.Assert != assert {
				kept = append(kept, c)
			}
		}
		*list = kept
		if len(kept) == 0 {
			*list = nil
		}
		return nil
	}
	c := Condition{Name: check, Assert: assert}
	v := value
	c.Trigger = strings.HasPrefix(v, "|")
	v = strings.TrimLeft(strings.TrimPrefix(v, "|"), " ")
	c.Negate = strings.HasPrefix(v, "!")
	v = strings.TrimLeft(strings.TrimPrefix(v, "!"), " ")
	if v == "" {
		return fmt.Errorf("empty value after the prefixes")
	}
	if pathChecks[check] && !strings.HasPrefix(v, "/") {
		return fmt.Errorf("path %q is not absolute", v)
	}
	c.Param = v
	*list = append(*list, c)
	return nil
}
