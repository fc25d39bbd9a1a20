package units

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// Validate checks a unit as a whole: the rules that span directives, and
// the facts of this host that must hold before anything is bound (programs
// exist and are executable, users and groups exist). It returns an
// ErrorList with every problem, each at the position of the directive at
// fault, or nil.
func Validate(u *Unit) error {
	errs := structuralErrors(u)
	errs = append(errs, sandboxErrors(u)...)
	errs = append(errs, socketMoreErrors(u)...)
	errs = append(errs, execErrors(u)...)
	errs = append(errs, hostErrors(u)...)
	errs = append(errs, socketHostErrors(u)...)
	return errs.Err()
}

// structuralErrors checks the rules that span directives.
func structuralErrors(u *Unit) ErrorList {
	var errs ErrorList
	at := func(section, directive string) Position { return positionOf(u, section, directive) }
	s, svc := &u.Socket, &u.Service
	if len(s.Listeners) == 0 {
		errs = append(errs, &Error{Pos: at("Socket", ""), Err: errNoListener})
	}
	nodes := 0
	for i, l := range s.Listeners {
		if s.Accept && !l.Kind.CanAccept() {
			errs = append(errs, Errorf(listenerPos(u, i), "Accept=yes needs listeners that accept connections, %s does not", l.Kind.Directive()))
		}
		if l.Address.HasPath() {
			nodes++
		}
	}
	if len(s.Symlinks) > 0 && nodes != 1 {
		errs = append(errs, Errorf(at("Socket", "Symlinks"), "needs exactly one Unix socket path or FIFO, the unit has %d", nodes))
	}
	switch n := len(svc.ExecStart); {
	case n == 0:
		errs = append(errs, Errorf(at("Service", "ExecStart"), "service %s has no ExecStart=", svc.Name))
	case n > 1 && svc.Type != TypeOneshot:
		errs = append(errs, Errorf(at("Service", "ExecStart"), "service %s has %d ExecStart= commands; only Type=oneshot allows more than one", svc.Name, n))
	}
	if svc.StandardInput == StdinSocket && !s.Accept && len(s.Listeners) != 1 {
		errs = append(errs, Errorf(at("Service", "StandardInput"), "StandardInput=socket needs Accept=yes or exactly one listener, the unit has %d", len(s.Listeners)))
	}
	for _, out := range []struct {
		name string
		v    StdOutput
	}{{"StandardOutput", svc.StandardOutput}, {"StandardError", svc.StandardError}} {
		if out.v.Kind == OutSocket && svc.StandardInput != StdinSocket {
			errs = append(errs, Errorf(at("Service", out.name), "%s=socket needs StandardInput=socket", out.name))
		}
	}
	return errs
}

// listenerPos returns where listener i was declared.
func listenerPos(u *Unit, i int) Position {
	if p, ok := u.Where[ElemKey("Socket", "Listen", i)]; ok {
		return p
	}
	return positionOf(u, "Socket", u.Socket.Listeners[i].Kind.Directive())
}

// hostErrors checks programs, users and groups on this host.
func hostErrors(u *Unit) ErrorList {
	var errs ErrorList
	at := func(directive string) Position { return positionOf(u, "Service", directive) }
	svc := &u.Service
	for _, name := range []string{"ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop", "ExecReload", "ExecCondition", "ExecStopPost"} {
		for i, c := range *commandsOf(svc, name) {
			pos, ok := u.Where[ElemKey("Service", name, i)]
			if !ok {
				pos = at(name)
			}
			if strings.Contains(c.Path, "%") && svc.IsTemplate() {
				continue // depends on the instance
			}
			if c.IgnoreFailure {
				// "-": systemd records a failure to execute as an
				// ignored failure too, so ExecStartPre=-/opt/maybe is
				// how units run an optional program.
				continue
			}
			if _, err := LookPath(c.Path); err != nil {
				errs = append(errs, &Error{Pos: pos, Err: err})
			}
		}
	}
	checkUser := func(section, directive, name string) {
		if name == "" || strings.Contains(name, "%") {
			return
		}
		if err := lookupUser(name); err != nil {
			errs = append(errs, &Error{Pos: positionOf(u, section, directive), Err: err})
		}
	}
	checkGroup := func(section, directive, name string) {
		if name == "" || strings.Contains(name, "%") {
			return
		}
		if err := lookupGroup(name); err != nil {
			errs = append(errs, &Error{Pos: positionOf(u, section, directive), Err: err})
		}
	}
	if !svc.Sandbox.DynamicUser { // DynamicUser= allocates User= and Group= when they do not exist
		checkUser("Service", "User", svc.User)
		checkGroup("Service", "Group", svc.Group)
	}
	for _, g := range svc.SupplementaryGroups {
		checkGroup("Service", "SupplementaryGroups", g)
	}
	checkUser("Socket", "SocketUser", u.Socket.SocketUser)
	checkGroup("Socket", "SocketGroup", u.Socket.SocketGroup)
	return errs
}

// SearchPath is the fixed search path for Exec*= commands given as a bare
// name, the same as systemd's.
const SearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath resolves a command's program: an absolute path is checked to
// be an executable regular file; a bare name is searched in SearchPath.
func LookPath(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, checkExecutable(name)
	}
	for _, dir := range filepath.SplitList(SearchPath) {
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %q not found in %s", name, SearchPath)
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("program %s: %w", path, unwrapPathError(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("program %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0111 == 0 {
		return fmt.Errorf("program %s is not executable", path)
	}
	return nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func lookupUser(name string) error {
	if _, err := user.Lookup(name); err == nil {
		return nil
	}
	if isDigits(name) {
		return nil // a numeric uid needs no entry in the user database
	}
	return fmt.Errorf("unknown user %q", name)
}

func lookupGroup(name string) error {
	if _, err := user.LookupGroup(name); err == nil {
		return nil
	}
	if isDigits(name) {
		return nil
	}
	return fmt.Errorf("unknown group %q", name)
}

// ValidateSet checks the rules between units: no address may be claimed
// by two units. It returns the names of the units to leave out (the later
// one by name of each conflicting pair) and an error for each.
//
// A unit left out claims none of its addresses, so a later unit that
// shares an address only with it is not left out too.
func ValidateSet(us []*Unit) (bad map[string]bool, errs ErrorList) {
	bad = map[string]bool{}
	owner := map[string]string{}
	for _, u := range sortedByName(us) {
		for i, l := range u.Socket.Listeners {
			if first, ok := owner[l.conflictKey()]; ok && first != u.Name {
				errs = append(errs, Errorf(listenerPos(u, i), "address %s is already claimed by unit %s", l.Address, first))
				bad[u.Name] = true
			}
		}
		if !bad[u.Name] {
			for _, l := range u.Socket.Listeners {
				owner[l.conflictKey()] = u.Name
			}
		}
	}
	return bad, errs
}

// conflictKey identifies what two listeners cannot both bind: the same
// path, or the same port and address for the same transport.
func (l Listener) conflictKey() string {
	a := l.Address
	switch a.Family {
	case FamilyUnix, FamilyFIFO:
		return "path " + a.Path
	}
	proto := "stream"
	if l.Kind == Datagram {
		proto = "datagram"
	}
	a.BarePort = false // a bare port binds [::]:PORT, the same as writing that
	return fmt.Sprintf("%s %s", proto, a)
}
