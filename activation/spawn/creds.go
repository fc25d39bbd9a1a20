package spawn

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// setCredentials resolves User=, Group= and SupplementaryGroups= and
// switches to them: setgroups, setgid, setuid, in that order. An unknown
// user exits 217/USER, an unknown group 216/GROUP, as in systemd. With
// User=, the user's group memberships are kept (as initgroups(3) would)
// and USER, LOGNAME and HOME are set unless the environment has them.
func (sh *shim) setCredentials() (int, error) {
	if sh.user == "" && sh.group == "" && len(sh.groups) == 0 {
		return 0, nil
	}
	uid, gid := -1, -1
	var groups []int
	if sh.user != "" {
		u, err := lookupUser(sh.user)
		if err != nil {
			return ExitUser, err
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		sh.home = u.HomeDir
		sh.setDefaultEnv("USER", u.Username)
		sh.setDefaultEnv("LOGNAME", u.Username)
		sh.setDefaultEnv("HOME", u.HomeDir)
		ids, err := u.GroupIds()
		if err != nil {
			return ExitGroup, fmt.Errorf("groups of user %s: %w", u.Username, err)
		}
		for _, id := range ids {
			if n, err := strconv.Atoi(id); err == nil && id != u.Gid {
				groups = append(groups, n)
			}
		}
	}
	if sh.group != "" {
		g, err := lookupGroup(sh.group)
		if err != nil {
			return ExitGroup, err
		}
		gid = g
	}
	for _, name := range sh.groups {
		g, err := lookupGroup(name)
		if err != nil {
			return ExitGroup, err
		}
		groups = append(groups, g)
	}
	return sh.switchTo(uid, gid, groups)
}

func (sh *shim) switchTo(uid, gid int, groups []int) (int, error) {
	if sh.user != "" || len(sh.groups) > 0 {
		if gid >= 0 {
			groups = append([]int{gid}, groups...)
		}
		slices.Sort(groups)
		groups = slices.Compact(groups)
		if err := syscall.Setgroups(groups); err != nil {
			return ExitGroup, fmt.Errorf("setgroups %v: %w", groups, err)
		}
	}
	if gid >= 0 {
		if err := syscall.Setgid(gid); err != nil {
			return ExitGroup, fmt.Errorf("setgid %d: %w", gid, err)
		}
	}
	if uid >= 0 {
		if err := syscall.Setuid(uid); err != nil {
			return ExitUser, fmt.Errorf("setuid %d: %w", uid, err)
		}
	}
	return 0, nil
}

func (sh *shim) setDefaultEnv(key, value string) {
	for _, kv := range sh.env {
		if strings.HasPrefix(kv, key+"=") {
			return
		}
	}
	sh.env = append(sh.env, key+"="+value)
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
