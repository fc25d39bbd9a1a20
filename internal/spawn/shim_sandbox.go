package spawn

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/sockd/sockd/internal/sandbox"
)

// shimSandboxEnv carries the Spec's sandbox.Plan to the shim; it is
// removed before the exec.
const shimSandboxEnv = "SOCKD_SPAWN_SANDBOX"

// sandboxAttr sets up how the shim is created for s.Sandbox: in the new
// namespaces, and for PrivateUsers= with a user namespace that maps root
// and the service's user and groups to themselves (every other id shows
// as the overflow id, "nobody", as under systemd).
func (s *Spec) sandboxAttr(attr *syscall.SysProcAttr) error {
	p := s.Sandbox
	if p == nil || p.Full {
		return nil
	}
	attr.Cloneflags = p.CloneFlags
	if p.CloneFlags&syscall.CLONE_NEWUSER == 0 {
		return nil
	}
	uids, gids := []int{0}, []int{0}
	c, _, err := resolveCredentials(s.User, s.Group, s.SupplementaryGroups)
	if err != nil {
		return err // the same lookup fails in the shim with 217/216 otherwise
	}
	if p.DynamicUID > 0 {
		c = dynamicCredentials(c, p)
	}
	if c != nil {
		uids = append(uids, c.uid)
		gids = append(append(gids, c.gid), c.groups...)
	}
	attr.UidMappings = idMaps(uids)
	attr.GidMappings = idMaps(gids)
	attr.GidMappingsEnableSetgroups = true
	return nil
}

// sandboxForkError explains a failure to create the service's
// namespaces: sockd refuses to start it rather than drop a protection.
func (s *Spec) sandboxForkError(err error) error {
	if s.Sandbox == nil || s.Sandbox.CloneFlags == 0 || !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	var kinds []string
	for _, ns := range []struct {
		flag uintptr
		what string
	}{{syscall.CLONE_NEWNS, "mount (file-system directives)"}, {syscall.CLONE_NEWNET, "network (PrivateNetwork=)"},
		{syscall.CLONE_NEWIPC, "IPC (PrivateIPC=)"}, {syscall.CLONE_NEWUTS, "UTS (ProtectHostname=)"},
		{syscall.CLONE_NEWUSER, "user (PrivateUsers=)"}} {
		if s.Sandbox.CloneFlags&ns.flag != 0 {
			kinds = append(kinds, ns.what)
		}
	}
	return fmt.Errorf("creating the %s namespaces needs CAP_SYS_ADMIN, which sockd lacks; "+
		"sockd does not run the service without them: %w", strings.Join(kinds, ", "), err)
}

// idMaps maps each id (ignoring -1 and repeats) to itself.
func idMaps(ids []int) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	seen := map[int]bool{}
	for _, id := range ids {
		if id >= 0 && !seen[id] {
			seen[id] = true
			out = append(out, syscall.SysProcIDMap{ContainerID: id, HostID: id, Size: 1})
		}
	}
	return out
}

// sandboxEnv returns the shim's variable for s.Sandbox, if any.
func (s *Spec) sandboxEnv() ([]string, error) {
	if s.Sandbox == nil {
		return nil, nil
	}
	enc, err := s.Sandbox.Encode()
	if err != nil {
		return nil, err
	}
	return []string{shimSandboxEnv + "=" + enc}, nil
}

// sandboxSteps are the shim's steps for a sandboxed service, in the
// order of systemd's exec_child(): the credentials are looked up before
// the mounts (which may hide /etc), applied after them, and the
// capabilities are set around the user switch; seccomp comes last.
func (sh *shim) sandboxSteps(p *sandbox.Plan) []func() (int, error) {
	var c *credentials
	step := func(f func() error) func() (int, error) {
		return func() (int, error) {
			if err := f(); err != nil {
				var se *sandbox.StepError
				if errors.As(err, &se) {
					return se.Code, se
				}
				return ExitNamespace, err
			}
			return 0, nil
		}
	}
	uid := func() int {
		if c == nil || p.NoSetuid {
			return -1
		}
		return c.uid
	}
	return []func() (int, error){
		sh.closeOnExec, sh.joinCgroups, sh.setUMask, sh.openStdio, sh.setAttrs, sh.setLimits,
		func() (code int, err error) {
			c, code, err = resolveCredentials(sh.user, sh.group, sh.groups)
			if err == nil && p.DynamicUID > 0 {
				c = dynamicCredentials(c, p)
			}
			if c != nil {
				sh.home = c.home
				sh.env = c.userEnv(sh.env)
			}
			return code, err
		},
		step(p.Namespaces), step(p.SetupMounts),
		step(func() error {
			if c == nil || p.NoSetuid {
				return nil
			}
			return sandbox.SetIDs(c.groups, c.setGroups, c.gid, -1)
		}),
		step(func() error { return p.BeforeUser(uid()) }),
		step(func() error { return sandbox.SetIDs(nil, false, -1, uid()) }),
		step(p.AfterUser),
		sh.chdir, sh.resetSignals, sh.noNewPrivs,
		step(p.Seal),
	}
}

// dynamicCredentials switches to the DynamicUser= id (uid and gid), with
// the resolved SupplementaryGroups= of c (nil without them).
func dynamicCredentials(c *credentials, p *sandbox.Plan) *credentials {
	d := &credentials{uid: p.DynamicUID, gid: p.DynamicUID, setGroups: true, name: p.DynamicName, home: "/"}
	if c != nil {
		d.groups = c.groups
	}
	return d
}

// decodeSandbox reads the plan from the environment, if the shim got one.
func decodeSandbox() (*sandbox.Plan, error) {
	enc, ok := syscall.Getenv(shimSandboxEnv)
	if !ok {
		return nil, nil
	}
	return sandbox.Decode(enc)
}

// execSandboxed is the shim's exec for a sandboxed service: a raw execve,
// since a seccomp filter may forbid what Go's syscall.Exec does first.
func execSandboxed(path string, argv, env []string) error {
	err := sandbox.Exec(path, argv, env)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe
	}
	return &os.PathError{Op: "execve", Path: path, Err: err}
}
