package enable

// States a unit file can be in, as `systemctl is-enabled` prints them.
const (
	StateEnabled        = "enabled"
	StateEnabledRuntime = "enabled-runtime"
	StateAlias          = "alias"
	StateMasked         = "masked"
	StateMaskedRuntime  = "masked-runtime"
	StateStatic         = "static"
	StateIndirect       = "indirect"
	StateDisabled       = "disabled"
)

// State returns the enablement state of the named unit as `systemctl
// is-enabled` decides it: masked (masked-runtime in /run); alias for a
// name that is an alias link; enabled (enabled-runtime) when a link in
// /etc/systemd/system (/run/systemd/system) enables it; else disabled if
// its [Install] section says how to enable it, indirect if it only has
// Also=, static if it has nothing. An error wrapping ErrNotFound means no
// unit file has that name.
func (p Paths) State(name string) (string, error) {
	u, err := p.find(name)
	if err != nil {
		return "", err
	}
	switch {
	case u.masked && u.dir == p.Runtime:
		return StateMaskedRuntime, nil
	case u.masked:
		return StateMasked, nil
	case u.aliasOf != "" && u.instance == "" && (u.dir == p.Config || u.dir == p.Runtime):
		return StateAlias, nil
	}
	for _, d := range []struct{ dir, state string }{{p.Config, StateEnabled}, {p.Runtime, StateEnabledRuntime}} {
		links, err := p.linksTo(d.dir, u)
		if err != nil {
			return "", err
		}
		if len(links) > 0 {
			return d.state, nil
		}
	}
	in := u.install
	switch {
	case len(in.WantedBy)+len(in.RequiredBy)+len(in.Alias) > 0:
		return StateDisabled, nil
	case len(in.Also) > 0:
		return StateIndirect, nil
	}
	return StateStatic, nil
}

// Enabled reports whether state counts as enabled for `is-enabled`'s
// exit status (0), as in systemctl.
func Enabled(state string) bool {
	switch state {
	case StateEnabled, StateEnabledRuntime, StateStatic, StateAlias, StateIndirect:
		return true
	}
	return false
}
