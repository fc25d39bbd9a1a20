package spawn

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"syscall"
)

// setCredentials resolves User=, Group= and SupplementaryGroups= and
// switches to them: setgroups, setgid, setuid, in that order. With User=,
// USER, LOGNAME and HOME are set unless the environment has them.
func (sh *shim) setCredentials() (int, error) {
	c, code, err := resolveCredentials(sh.user, sh.group, sh.groups)
	if err != nil || c == nil {
		return code, err
	}
	sh.home = c.home
	sh.env = c.userEnv(sh.env)
	return c.switchTo()
}

// credentials are User=, Group= and SupplementaryGroups= resolved to ids.
type credentials struct {
	uid, gid  int   // -1 keeps sockd's
	setGroups bool  // whether to call setgroups(2) with groups
	groups    []int // sorted, without duplicates
	name      string
	home      string // the user's name and home directory, with User=
}

// resolveCredentials looks up the user and groups; nil means there is
// nothing to switch. An unknown user is 217/USER, an unknown group
// 216/GROUP (the returned code), as in systemd. With User=, the user's
// group memberships are kept (as initgroups(3) would) and its primary
// group is the gid unless Group= says otherwise.
func resolveCredentials(user, group string, supplementary []string) (*credentials, int, error) {
	if user == "" && group == "" && len(supplementary) == 0 {
		return nil, 0, nil
	}
	c := &credentials{uid: -1, gid: -1, setGroups: user != "" || len(supplementary) > 0}
	var groups []int
	if user != "" {
		u, err := lookupUser(user)
		if err != nil {
			return nil, ExitUser, err
		}
		c.uid, _ = strconv.Atoi(u.Uid)
		c.gid, _ = strconv.Atoi(u.Gid)
		c.name, c.home = u.Username, u.HomeDir
		ids, err := u.GroupIds()
		if err != nil {
			return nil, ExitGroup, fmt.Errorf("groups of user %s: %w", u.Username, err)
		}
		for _, id := range ids {
			if n, err := strconv.Atoi(id); err == nil && id != u.Gid {
				groups = append(groups, n)
			}
		}
	}
	if group != "" {
		g, err := lookupGroup(group)
		if err != nil {
			return nil, ExitGroup, err
		}
		c.gid = g
	}
	for _, name := range supplementary {
		g, err := lookupGroup(name)
		if err != nil {
			return nil, ExitGroup, err
		}
		groups = append(groups, g)
	}
	if c.setGroups {
		if c.gid >= 0 {
			groups = append(groups, c.gid)
		}
		slices.Sort(groups)
		c.groups = slices.Compact(groups)
	}
	return c, 0, nil
}

// userEnv returns env with USER, LOGNAME and HOME added for User=, each
// unless env has it already.
func (c *credentials) userEnv(env []string) []string {
	if c.name == "" {
		return env
	}
	for _, kv := range [...][2]string{{"USER", c.name}, {"LOGNAME", c.name}, {"HOME", c.home}} {
		if _, ok := lookupEnv(env, kv[0]); !ok {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}

// switchTo switches the shim, every thread of it, to c.
func (c *credentials) switchTo() (int, error) {
	if c.setGroups {
		if err := syscall.Setgroups(c.groups); err != nil {
			return ExitGroup, fmt.Errorf("setgroups %v: %w", c.groups, err)
		}
	}
	if c.gid >= 0 {
		if err := syscall.Setgid(c.gid); err != nil {
			return ExitGroup, fmt.Errorf("setgid %d: %w", c.gid, err)
		}
	}
	if c.uid >= 0 {
		if err := syscall.Setuid(c.uid); err != nil {
			return ExitUser, fmt.Errorf("setuid %d: %w", c.uid, err)
		}
	}
	return 0, nil
}

// lookupUser finds a user by name, or by uid if name is a number.
func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) && isNumber(name) {
		u, err = user.LookupId(name)
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// lookupGroup finds a group's gid by name, or by gid if name is a number.
func lookupGroup(name string) (int, error) {
	g, err := user.LookupGroup(name)
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) && isNumber(name) {
		g, err = user.LookupGroupId(name)
	}
	if err != nil {
		return -1, fmt.Errorf("group %q: %w", name, err)
	}
	return strconv.Atoi(g.Gid)
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// homeOf returns the home directory of a uid, or "/" if unknown.
func homeOf(uid string) string {
	if u, err := user.LookupId(uid); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return "/"
}
