package sandbox

import (
	"encoding/json"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// Plan is what a spawned child applies before execve, compiled by Compile.
// It is encoded into the shim's spec (Encode, Decode).
type Plan struct {
	// Full is the "+" prefix (or PermissionsStartOnly= for a control
	// command): no sandbox and no user switch at all.
	Full bool `json:"full,omitempty"`
	// NoSetuid is the "!" prefix: the sandbox without the user switch.
	NoSetuid bool `json:"nosetuid,omitempty"`

	// CloneFlags are the namespaces the child is created in
	// (CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWUSER).
	CloneFlags uintptr `json:"clone,omitempty"`
	NetNSPath  string  `json:"netns,omitempty"` // NetworkNamespacePath=
	IPCNSPath  string  `json:"ipcns,omitempty"` // IPCNamespacePath=
	Loopback   bool    `json:"lo,omitempty"`    // bring lo up in a new network namespace

	Mounts      []Mount `json:"mounts,omitempty"`
	Propagation uintptr `json:"prop,omitempty"` // MountFlags=: MS_SHARED, MS_SLAVE or MS_PRIVATE

	// Bounding is the capability bounding set, if BoundingSet.
	Bounding    uint64 `json:"bset,omitempty"`
	BoundingSet bool   `json:"hasbset,omitempty"`
	Ambient     uint64 `json:"ambient,omitempty"`
	SecureBits  int    `json:"securebits,omitempty"`
	NoNewPrivs  bool   `json:"nnp,omitempty"`
	RTPrioZero  bool   `json:"rtprio0,omitempty"` // RestrictRealtime=: RLIMIT_RTPRIO 0

	// Filters are the seccomp programs, loaded in order.
	Filters []Program `json:"seccomp,omitempty"`

	// DynamicUID and DynamicName are the DynamicUser= identity (the gid
	// is the same number), set per start by WithDynamicUser; the user's
	// SupplementaryGroups= still apply.
	DynamicUID  int    `json:"duid,omitempty"`
	DynamicName string `json:"dname,omitempty"`
}

// Program is one seccomp BPF program and the directive it enforces. It
// is encoded as the raw sock_filter array (base64 in JSON): decoding
// hundreds of instructions as JSON objects in every shim cost more than
// loading them.
type Program struct {
	Name  string
	Insns []unix.SockFilter
}

type programJSON struct {
	Name  string `json:"name"`
	Insns []byte `json:"insns"`
}

const insnSize = int(unsafe.Sizeof(unix.SockFilter{}))

// MarshalJSON encodes the instructions as their raw bytes.
func (p Program) MarshalJSON() ([]byte, error) {
	var raw []byte
	if len(p.Insns) > 0 {
		raw = unsafe.Slice((*byte)(unsafe.Pointer(&p.Insns[0])), len(p.Insns)*insnSize)
	}
	return json.Marshal(programJSON{p.Name, raw})
}

// UnmarshalJSON is MarshalJSON's inverse.
func (p *Program) UnmarshalJSON(b []byte) error {
	var j programJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if len(j.Insns)%insnSize != 0 {
		return fmt.Errorf("seccomp program %s: %d bytes", j.Name, len(j.Insns))
	}
	p.Name, p.Insns = j.Name, make([]unix.SockFilter, len(j.Insns)/insnSize)
	if len(p.Insns) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&p.Insns[0])), len(j.Insns)), j.Insns)
	}
	return nil
}

// Kind says how a command relates to its unit's sandbox.
type Kind int

// The kinds of command.
const (
	MainCommand    Kind = iota // ExecStart=
	ControlCommand             // ExecStartPre=, ExecStartPost=, ExecStop=, ExecReload=
)

// Options are what Compile needs besides the unit.
type Options struct {
	// RW are extra paths that must stay writable: the service's
	// RuntimeDirectory=, StateDirectory= and the like, which punch
	// through ProtectSystem=strict.
	RW []string
}

// Compile turns a service's sandbox into the plan for one of its
// commands. It returns nil when the command needs nothing of it.
func Compile(svc *units.Service, cmd units.Command, kind Kind, opt Options) (*Plan, error) {
	s := effective(&svc.Sandbox)
	switch {
	case cmd.Privilege == units.PrivFull,
		kind == ControlCommand && s.PermissionsStartOnly:
		return &Plan{Full: true}, nil
	}
	if !s.Enabled() && cmd.Privilege == units.PrivNormal {
		return nil, nil
	}
	p := &Plan{
		NoSetuid:   cmd.Privilege == units.PrivNoSetuid,
		NoNewPrivs: svc.NoNewPrivileges || s.DynamicUser,
		Ambient:    s.AmbientCapabilities,
		SecureBits: s.SecureBits,
		RTPrioZero: s.RestrictRealtime,
		NetNSPath:  s.NetworkNamespacePath,
		IPCNSPath:  s.IPCNamespacePath,
	}
	// "!!": sockd needs ambient capabilities (Linux 4.3+), so it is the
	// same as no prefix, as in systemd on such a kernel.
	p.BoundingSet, p.Bounding = boundingSet(s)
	p.Ambient &= p.Bounding // as systemd: ambient capabilities outside the bounding set are left out
	if s.PrivateNetwork && s.NetworkNamespacePath == "" {
		p.CloneFlags |= unix.CLONE_NEWNET
		p.Loopback = true
	}
	if s.PrivateIPC && s.IPCNamespacePath == "" {
		p.CloneFlags |= unix.CLONE_NEWIPC
	}
	if s.ProtectHostname {
		p.CloneFlags |= unix.CLONE_NEWUTS
	}
	if s.PrivateUsers {
		p.CloneFlags |= unix.CLONE_NEWUSER
	}
	mounts, err := mountPlan(s, opt.RW)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}

	if len(mounts) > 0 || needsMountNS(s) {
		p.CloneFlags |= unix.CLONE_NEWNS
		p.Mounts = mounts
		p.Propagation = propagation(s.MountFlags)
	}
	for _, f := range filters(s) {
		insns, err := f.assemble()
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		p.Filters = append(p.Filters, Program{Name: f.Name, Insns: insns})
	}
	return p, nil
}

// effective applies the implications of unit_patch_contexts(): what
// DynamicUser= turns on.
func effective(in *units.Sandbox) *units.Sandbox {
	s := *in
	if s.DynamicUser {
		s.PrivateTmp = true
		s.RestrictSUIDSGID = true
		if s.ProtectSystem == "" {
			s.ProtectSystem = "strict"
		}
		if s.ProtectHome == "" {
			s.ProtectHome = "read-only"
		}
	}
	return &s
}

// boundingSet is CapabilityBoundingSet= minus the capabilities that
// PrivateDevices=, ProtectKernelModules=, ProtectKernelLogs= and
// ProtectClock= remove (unit_patch_contexts()).
func boundingSet(s *units.Sandbox) (bool, uint64) {
	set := s.CapabilityBoundingSet != nil
	b := units.AllCapabilities
	if set {
		b = *s.CapabilityBoundingSet
	}
	drop := func(on bool, caps ...int) {
		if on {
			for _, c := range caps {
				b &^= 1 << c
				set = true
			}
		}
	}
	drop(s.PrivateDevices, unix.CAP_MKNOD, unix.CAP_SYS_RAWIO)
	drop(s.ProtectKernelModules, unix.CAP_SYS_MODULE)
	drop(s.ProtectKernelLogs, unix.CAP_SYSLOG)
	drop(s.ProtectClock, unix.CAP_SYS_TIME, unix.CAP_WAKE_ALARM)
	return set, b
}

// needsMountNS is exec_needs_mount_namespace() for what makes no mount.
func needsMountNS(s *units.Sandbox) bool {
	return s.PrivateMounts || s.MountFlags != "" || s.PrivateIPC
}

func propagation(flags string) uintptr {
	switch flags {
	case "slave":
		return unix.MS_SLAVE
	case "private":
		return unix.MS_PRIVATE
	}
	return unix.MS_SHARED
}

// WithPrivateTmp returns p with the unit's PrivateTmp= directories (from
// PrivateTmp) as the sources of the /tmp and /var/tmp steps; p itself,
// which may be shared, is not changed.
func (p *Plan) WithPrivateTmp(tmp, varTmp string) *Plan {
	c := *p
	c.Mounts = append([]Mount(nil), p.Mounts...)
	for i := range c.Mounts {
		if c.Mounts[i].Op == OpPrivateTmp {
			c.Mounts[i].Src = tmp
			if c.Mounts[i].Path == "/var/tmp" {
				c.Mounts[i].Src = varTmp
			}
		}
	}
	return &c
}

// WithDynamicUser returns p with the service's DynamicUser= identity.
func (p *Plan) WithDynamicUser(d *DynamicUser) *Plan {
	c := *p
	c.DynamicUID, c.DynamicName = d.UID, d.Name
	return &c
}

// NeedsPrivateTmp reports whether p has PrivateTmp= steps.
func (p *Plan) NeedsPrivateTmp() bool {
	for _, m := range p.Mounts {
		if m.Op == OpPrivateTmp {
			return true
		}
	}
	return false
}

// Encode serializes p for the shim.
func (p *Plan) Encode() (string, error) {
	b, err := json.Marshal(p)
	return string(b), err
}

// Decode is Encode's inverse.
func Decode(s string) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("sandbox plan: %w", err)
	}
	return &p, nil
}
