package sandbox

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/units"
)

// allFeatures turns on every seccomp feature.
func allFeatures() *units.Sandbox {
	ns := uint64(unix.CLONE_NEWNET)
	s := &units.Sandbox{ProtectHostname: true, MemoryDenyWriteExecute: true, RestrictRealtime: true,
		RestrictSUIDSGID: true, RestrictNamespaces: &ns, ProtectKernelTunables: true, ProtectKernelModules: true,
		ProtectKernelLogs: true, ProtectClock: true, PrivateDevices: true, SystemCallArchNative: true,
		LockPersonality: true, SystemCallErrorNumber: int(unix.EPERM),
		RestrictAddressFamilies: units.FamilySet{Set: true, Allow: true, Families: map[int]bool{unix.AF_UNIX: true, unix.AF_INET: true}},
	}
	s.SystemCallFilter = units.SyscallSet{Set: true, Allow: true, Names: map[string]int{}}
	for _, g := range []string{"@system-service", "@default"} {
		names, _ := units.SyscallGroup(g)
		for _, n := range names {
			s.SystemCallFilter.Names[n] = -1
		}
	}
	return s
}

// TestProgramsWellFormed checks every compiled program the way the
// kernel's verifier would reject it: jumps inside the program, the last
// instruction a return, loads at valid seccomp_data offsets.
func TestProgramsWellFormed(t *testing.T) {
	for _, f := range filters(allFeatures()) {
		p, err := f.assemble()
		if err != nil {
			t.Fatal(err)
		}
		if last := p[len(p)-1]; last.Code != unix.BPF_RET|unix.BPF_K {
			t.Errorf("%s: last instruction %#v is not a return", f.Name, last)
		}
		for i, ins := range p {
			switch ins.Code & 0x07 {
			case unix.BPF_JMP:
				if i+1+int(ins.Jt) >= len(p) || i+1+int(ins.Jf) >= len(p) {
					t.Errorf("%s: instruction %d jumps out of the program", f.Name, i)
				}
			case unix.BPF_LD:
				if ins.K%4 != 0 || ins.K >= 64 {
					t.Errorf("%s: instruction %d loads offset %d", f.Name, i, ins.K)
				}
			}
		}
	}
}

// run interprets a program on one seccomp_data, as the kernel does.
func run(p []unix.SockFilter, nr int, args ...uint32) uint32 {
	data := make([]uint32, 16)
	data[0], data[1] = uint32(nr), auditArchX86_64
	for i, a := range args {
		data[4+2*i] = a
	}
	var acc uint32
	for pc := 0; pc < len(p); pc++ {
		ins := p[pc]
		switch ins.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = data[ins.K/4]
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= ins.K
		case unix.BPF_RET | unix.BPF_K:
			return ins.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var ok bool
			switch ins.Code & 0xf0 {
			case unix.BPF_JEQ:
				ok = acc == ins.K
			case unix.BPF_JGE:
				ok = acc >= ins.K
			case unix.BPF_JSET:
				ok = acc&ins.K != 0
			}
			if ok {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		default:
			panic("unexpected instruction")
		}
	}
	panic("fell off the program")
}

func TestProgramSemantics(t *testing.T) {
	progs := map[string][]unix.SockFilter{}
	for _, f := range filters(allFeatures()) {
		p, err := f.assemble()
		if err != nil {
			t.Fatal(err)
		}
		progs[f.Name] = p
	}
	eperm := uint32(ActErrno(unix.EPERM))
	cases := []struct {
		filter string
		nr     int
		args   []uint32
		want   uint32
	}{
		{"SystemCallFilter", unix.SYS_READ, nil, retAllow},
		{"SystemCallFilter", unix.SYS_MOUNT, nil, eperm},
		{"SystemCallFilter", unix.SYS_REBOOT, nil, eperm},
		{"MemoryDenyWriteExecute", unix.SYS_MMAP, []uint32{0, 0, unix.PROT_WRITE | unix.PROT_EXEC}, eperm},
		{"MemoryDenyWriteExecute", unix.SYS_MMAP, []uint32{0, 0, unix.PROT_READ | unix.PROT_EXEC}, retAllow},
		{"MemoryDenyWriteExecute", unix.SYS_MPROTECT, []uint32{0, 0, unix.PROT_EXEC}, eperm},
		{"MemoryDenyWriteExecute", unix.SYS_MPROTECT, []uint32{0, 0, unix.PROT_READ}, retAllow},
		{"RestrictAddressFamilies", unix.SYS_SOCKET, []uint32{unix.AF_INET}, retAllow},
		{"RestrictAddressFamilies", unix.SYS_SOCKET, []uint32{unix.AF_PACKET}, uint32(ActErrno(unix.EAFNOSUPPORT))},
		{"RestrictNamespaces", unix.SYS_UNSHARE, []uint32{unix.CLONE_NEWNET}, retAllow},
		{"RestrictNamespaces", unix.SYS_UNSHARE, []uint32{unix.CLONE_NEWUSER}, eperm},
		{"RestrictNamespaces", unix.SYS_SETNS, []uint32{3, 0}, eperm},
		{"RestrictNamespaces", unix.SYS_CLONE3, nil, uint32(ActErrno(unix.ENOSYS))},
		{"RestrictSUIDSGID", unix.SYS_OPENAT, []uint32{0, 0, unix.O_CREAT, 0o4755}, eperm},
		{"RestrictSUIDSGID", unix.SYS_OPENAT, []uint32{0, 0, unix.O_CREAT, 0o755}, retAllow},
		{"RestrictSUIDSGID", unix.SYS_OPENAT, []uint32{0, 0, 0, 0o4755}, retAllow},
		{"RestrictRealtime", unix.SYS_SCHED_SETSCHEDULER, []uint32{0, 1}, eperm},
		{"RestrictRealtime", unix.SYS_SCHED_SETSCHEDULER, []uint32{0, 3}, retAllow},
		{"LockPersonality", unix.SYS_PERSONALITY, []uint32{0xffffffff}, retAllow},
		{"LockPersonality", unix.SYS_PERSONALITY, []uint32{8}, eperm},
		{"ProtectClock", unix.SYS_CLOCK_SETTIME, nil, eperm},
		{"ProtectKernelModules", unix.SYS_INIT_MODULE, nil, eperm},
		{"PrivateDevices", unix.SYS_IOPL, nil, eperm},
		{"ProtectHostname", unix.SYS_SETHOSTNAME, nil, eperm},
	}
	for _, c := range cases {
		if got := run(progs[c.filter], c.nr, c.args...); got != c.want {
			t.Errorf("%s: syscall %d %v: %#x; want %#x", c.filter, c.nr, c.args, got, c.want)
		}
	}
	// Another architecture: ENOSYS, or killed under SystemCallArchitectures=native.
	p := progs["SystemCallArchitectures"]
	if p[2].K != retKillProcess {
		t.Errorf("bad-arch action %#x; want kill", p[2].K)
	}
}

func TestMountPlan(t *testing.T) {
	s := &units.Sandbox{ProtectSystem: "strict", ProtectHome: "yes",
		ReadWritePaths:    []units.PathEntry{{Path: "/var/lib/x"}},
		InaccessiblePaths: []units.PathEntry{{Path: "/home"}},
		ReadOnlyPaths:     []units.PathEntry{{Path: "/home/a"}}} // below an inaccessible path: dropped
	ms, err := mountPlan(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, string(m.Op)+" "+m.Path)
	}
	want := []string{"ro /", "rw-implicit /dev", "inaccessible /home", "rw-implicit /proc", "inaccessible /root",
		"inaccessible /run/user", "rw-implicit /sys", "rw /var/lib/x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan %q;\nwant %q", got, want)
	}
	s.ReadOnlyPaths = []units.PathEntry{{Path: "/var/lib/x"}}
	if _, err := mountPlan(s, nil); err == nil {
		t.Error("a path both read-write and read-only: no error")
	}
}

func TestPlanEncoding(t *testing.T) {
	svc := &units.Service{Name: "x.service", Sandbox: *allFeatures()}
	svc.Sandbox.ProtectSystem = "strict"
	p, err := Compile(svc, units.Command{Path: "/bin/true"}, MainCommand, Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("decoded plan differs:\n%+v\n%+v", p, q)
	}
}
