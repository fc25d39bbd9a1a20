package sandbox_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// capBit reports whether a /proc/self/status capability mask has cap.
func capBit(mask string, cap uint) bool {
	v, err := strconv.ParseUint(mask, 16, 64)
	return err == nil && v&(1<<cap) != 0
}

// hostNS returns this test's namespace of a kind, which the baseline
// service shares.
func hostNS(kind string) string {
	l, _ := os.Readlink("/proc/self/ns/" + kind)
	return l
}

// directiveCases has one case per directive: the [Service] lines and
// what the probe must see with them. Every check must fail on the
// baseline, the same probe without the lines (TestBaselineSeesHost).
var directiveCases = []struct {
	name  string
	lines []string
	check func(r *sandboxReport) string // "" if the protection is seen
}{
	{"ProtectSystemStrict", []string{"ProtectSystem=strict", "ReadWritePaths=$REP"}, func(r *sandboxReport) string {
		if o, _ := mountedAt(r, "/"); !readOnly(o) || r.Attempts["write_usr"] != "EROFS" || r.Attempts["write_etc"] != "EROFS" {
			return fmt.Sprintf("/ mounted %q, write /usr: %s, write /etc: %s", o, r.Attempts["write_usr"], r.Attempts["write_etc"])
		}
		return ""
	}},
	{"ProtectSystemYes", []string{"ProtectSystem=yes"}, func(r *sandboxReport) string {
		if r.Attempts["write_usr"] != "EROFS" || r.Attempts["write_etc"] != "ok" {
			return fmt.Sprintf("write /usr: %s (want EROFS), /etc: %s (want ok)", r.Attempts["write_usr"], r.Attempts["write_etc"])
		}
		return ""
	}},
	{"ProtectSystemFull", []string{"ProtectSystem=full"}, func(r *sandboxReport) string {
		if r.Attempts["write_usr"] != "EROFS" || r.Attempts["write_etc"] != "EROFS" {
			return fmt.Sprintf("write /usr: %s, /etc: %s; want EROFS", r.Attempts["write_usr"], r.Attempts["write_etc"])
		}
		return ""
	}},
	{"ReadOnlyPaths", []string{"ReadOnlyPaths=/etc -/nonexistent"}, func(r *sandboxReport) string {
		if r.Attempts["write_etc"] != "EROFS" || r.Attempts["write_usr"] != "ok" {
			return fmt.Sprintf("write /etc: %s (want EROFS), /usr: %s (want ok)", r.Attempts["write_etc"], r.Attempts["write_usr"])
		}
		return ""
	}},
	{"ReadWritePaths", []string{"ProtectSystem=strict", "ReadWritePaths=$REP /usr"}, func(r *sandboxReport) string {
		if r.Attempts["write_usr"] != "ok" || r.Attempts["write_etc"] != "EROFS" {
			return fmt.Sprintf("write /usr: %s (want ok), /etc: %s (want EROFS)", r.Attempts["write_usr"], r.Attempts["write_etc"])
		}
		return ""
	}},
	{"InaccessiblePaths", []string{"InaccessiblePaths=/usr/share"}, func(r *sandboxReport) string {
		if o, ok := mountedAt(r, "/usr/share"); !ok || !readOnly(o) {
			return fmt.Sprintf("/usr/share mounted %v %q", ok, o)
		}
		return ""
	}},
	{"ProtectHomeYes", []string{"ProtectHome=yes"}, func(r *sandboxReport) string {
		if o, ok := mountedAt(r, "/root"); !ok || !strings.Contains(o, "mode=000") {
			return fmt.Sprintf("/root mounted %v %q; want an empty mode-0 directory", ok, o)
		}
		return ""
	}},
	{"ProtectHomeTmpfs", []string{"ProtectHome=tmpfs"}, func(r *sandboxReport) string {
		if o, ok := mountedAt(r, "/root"); !ok || !readOnly(o) || !strings.Contains(o, "mode=700") {
			return fmt.Sprintf("/root mounted %v %q; want a read-only tmpfs of mode 0700", ok, o)
		}
		return ""
	}},
	{"PrivateTmp", []string{"PrivateTmp=yes"}, func(r *sandboxReport) string {
		if len(r.TmpEntries) != 0 || contains(r.TmpEntries, tmpMarker) {
			return fmt.Sprintf("/tmp holds %v; want it empty", r.TmpEntries)
		}
		return ""
	}},
	{"PrivateDevices", []string{"PrivateDevices=yes"}, func(r *sandboxReport) string {
		if len(r.DevBlock) != 0 || !contains(r.DevEntries, "null") || !contains(r.DevEntries, "urandom") || capBit(r.Status["CapBnd"], 27) {
			return fmt.Sprintf("/dev block devices %v, entries %v, CapBnd %s (want no CAP_MKNOD)", r.DevBlock, r.DevEntries, r.Status["CapBnd"])
		}
		return ""
	}},
	{"ProtectKernelTunables", []string{"ProtectKernelTunables=yes"}, func(r *sandboxReport) string {
		if o, _ := mountedAt(r, "/proc/sys"); !readOnly(o) {
			return fmt.Sprintf("/proc/sys mounted %q", o)
		}
		return ""
	}},
	{"ProtectKernelModules", []string{"ProtectKernelModules=yes"}, func(r *sandboxReport) string {
		if capBit(r.Status["CapBnd"], 16) {
			return "CAP_SYS_MODULE in CapBnd " + r.Status["CapBnd"]
		}
		return ""
	}},
	{"ProtectKernelLogs", []string{"ProtectKernelLogs=yes"}, func(r *sandboxReport) string {
		if capBit(r.Status["CapBnd"], 34) {
			return "CAP_SYSLOG in CapBnd " + r.Status["CapBnd"]
		}
		return ""
	}},
	{"ProtectClock", []string{"ProtectClock=yes"}, func(r *sandboxReport) string {
		if capBit(r.Status["CapBnd"], 25) {
			return "CAP_SYS_TIME in CapBnd " + r.Status["CapBnd"]
		}
		return ""
	}},
	{"ProtectControlGroups", []string{"ProtectControlGroups=yes"}, func(r *sandboxReport) string {
		if o, _ := mountedAt(r, "/sys/fs/cgroup"); !readOnly(o) {
			return fmt.Sprintf("/sys/fs/cgroup mounted %q", o)
		}
		return ""
	}},
	{"ProtectHostname", []string{"ProtectHostname=yes"}, func(r *sandboxReport) string {
		if r.Attempts["sethostname"] != "EPERM" || r.Namespaces["uts"] == hostNS("uts") {
			return fmt.Sprintf("sethostname: %s; uts namespace %s", r.Attempts["sethostname"], r.Namespaces["uts"])
		}
		return ""
	}},
	{"ProtectProc", []string{"ProtectProc=invisible", "ProcSubset=pid"}, func(r *sandboxReport) string {
		for _, m := range r.Mountinfo {
			if strings.HasPrefix(m, "/proc ") && strings.Contains(m, "hidepid=invisible") && strings.Contains(m, "subset=pid") {
				return ""
			}
		}
		return "no /proc with hidepid=invisible,subset=pid"
	}},
	{"TemporaryFileSystem", []string{"TemporaryFileSystem=/srv:ro,size=1M"}, func(r *sandboxReport) string {
		if o, ok := mountedAt(r, "/srv"); !ok || !readOnly(o) {
			return fmt.Sprintf("/srv mounted %v %q", ok, o)
		}
		return ""
	}},
	{"BindReadOnlyPaths", []string{"BindReadOnlyPaths=/etc:/mnt"}, func(r *sandboxReport) string {
		if o, ok := mountedAt(r, "/mnt"); !ok || !readOnly(o) {
			return fmt.Sprintf("/mnt mounted %v %q", ok, o)
		}
		return ""
	}},
	{"PrivateMounts", []string{"PrivateMounts=yes"}, func(r *sandboxReport) string {
		if r.Namespaces["mnt"] == hostNS("mnt") {
			return "same mount namespace as the host"
		}
		return ""
	}},
	{"SyscallDeny", []string{"SystemCallFilter=~getcpu:EACCES"}, func(r *sandboxReport) string {
		if r.Attempts["getcpu"] != "EACCES" || r.Status["Seccomp"] != "2" {
			return fmt.Sprintf("getcpu: %s, Seccomp %s", r.Attempts["getcpu"], r.Status["Seccomp"])
		}
		return ""
	}},
	{"SyscallAllow", []string{"SystemCallFilter=@system-service", "SystemCallErrorNumber=EPERM"}, func(r *sandboxReport) string {
		if r.Attempts["sethostname"] != "EPERM" || r.Attempts["getcpu"] != "ok" {
			return fmt.Sprintf("sethostname: %s (want EPERM), getcpu: %s (want ok)", r.Attempts["sethostname"], r.Attempts["getcpu"])
		}
		return ""
	}},
	{"SyscallArchs", []string{"SystemCallArchitectures=native"}, func(r *sandboxReport) string {
		if r.Status["Seccomp_filters"] != "1" {
			return "Seccomp_filters " + r.Status["Seccomp_filters"]
		}
		return ""
	}},
	{"MemoryDenyWriteExecute", []string{"MemoryDenyWriteExecute=yes"}, func(r *sandboxReport) string {
		if r.Attempts["mmap_wx"] != "EPERM" {
			return "mmap PROT_WRITE|PROT_EXEC: " + r.Attempts["mmap_wx"]
		}
		return ""
	}},
	{"RestrictRealtime", []string{"RestrictRealtime=yes"}, func(r *sandboxReport) string {
		if r.Attempts["sched_fifo"] != "EPERM" {
			return "SCHED_FIFO: " + r.Attempts["sched_fifo"]
		}
		return ""
	}},
	{"LockPersonality", []string{"LockPersonality=yes"}, func(r *sandboxReport) string {
		if r.Attempts["personality"] != "EPERM" {
			return "personality(PER_LINUX32): " + r.Attempts["personality"]
		}
		return ""
	}},
	{"RestrictSUIDSGID", []string{"RestrictSUIDSGID=yes"}, func(r *sandboxReport) string {
		if r.Attempts["chmod_suid"] != "EPERM" {
			return "chmod 04755: " + r.Attempts["chmod_suid"]
		}
		return ""
	}},
	{"AddressFamilies", []string{"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"}, func(r *sandboxReport) string {
		if r.Attempts["socket_packet"] != "EAFNOSUPPORT" || r.Attempts["socket_netlink"] != "EAFNOSUPPORT" {
			return fmt.Sprintf("AF_PACKET: %s, AF_NETLINK: %s", r.Attempts["socket_packet"], r.Attempts["socket_netlink"])
		}
		return ""
	}},
	{"RestrictNamespaces", []string{"RestrictNamespaces=yes"}, func(r *sandboxReport) string {
		if r.Attempts["unshare_uts"] != "EPERM" {
			return "unshare(CLONE_NEWUTS): " + r.Attempts["unshare_uts"]
		}
		return ""
	}},
	{"PrivateNetwork", []string{"PrivateNetwork=yes"}, func(r *sandboxReport) string {
		if len(r.Interfaces) != 1 || r.Interfaces[0] != "lo" || r.Namespaces["net"] == hostNS("net") {
			return fmt.Sprintf("interfaces %v; want only lo", r.Interfaces)
		}
		return ""
	}},
	{"PrivateIPC", []string{"PrivateIPC=yes"}, func(r *sandboxReport) string {
		if r.Namespaces["ipc"] == hostNS("ipc") {
			return "same IPC namespace as the host"
		}
		return ""
	}},
	{"CapabilityBoundingSet", []string{"CapabilityBoundingSet=CAP_NET_BIND_SERVICE"}, func(r *sandboxReport) string {
		if r.Status["CapBnd"] != "0000000000000400" || r.Status["CapEff"] != "0000000000000400" {
			return fmt.Sprintf("CapBnd %s, CapEff %s; want 0000000000000400", r.Status["CapBnd"], r.Status["CapEff"])
		}
		return ""
	}},
	{"AmbientCapabilities", []string{"User=nobody", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "ReadWritePaths=$REP"}, func(r *sandboxReport) string {
		if r.UID != 65534 || r.Status["CapAmb"] != "0000000000000400" || r.Status["CapEff"] != "0000000000000400" {
			return fmt.Sprintf("uid %d, CapAmb %s, CapEff %s", r.UID, r.Status["CapAmb"], r.Status["CapEff"])
		}
		return ""
	}},
	{"SecureBits", []string{"SecureBits=noroot noroot-locked"}, func(r *sandboxReport) string {
		if r.SecureBits != 3 {
			return fmt.Sprintf("securebits %#x", r.SecureBits)
		}
		return ""
	}},
	{"NNPImplied", []string{"User=nobody", "SystemCallFilter=~getcpu", "SystemCallErrorNumber=EPERM"}, func(r *sandboxReport) string {
		if r.Status["NoNewPrivs"] != "1" || r.Status["Seccomp"] != "2" {
			return fmt.Sprintf("NoNewPrivs %s, Seccomp %s", r.Status["NoNewPrivs"], r.Status["Seccomp"])
		}
		return ""
	}},
	{"PrivateUsers", []string{"PrivateUsers=yes"}, func(r *sandboxReport) string {
		if r.UIDMap != "0 0 1" || r.Namespaces["user"] == hostNS("user") {
			return fmt.Sprintf("uid_map %q; want \"0 0 1\"", r.UIDMap)
		}
		return ""
	}},
}

// tmpMarker is a file the tests put in the host's /tmp.
var tmpMarker string

func setupMarker(t *testing.T) {
	if tmpMarker != "" {
		return
	}
	f, err := os.CreateTemp("/tmp", "sockd-sandbox-marker-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	tmpMarker = f.Name()[len("/tmp/"):]
	t.Cleanup(func() { os.Remove(f.Name()); tmpMarker = "" })
}

// TestDirectives runs the probe once per directive and checks, from the
// service's side, that the directive is enforced.
func TestDirective(t *testing.T) {
	setupMarker(t)
	for _, c := range directiveCases {
		t.Run(c.name, func(t *testing.T) {
			r := probeLines(t, c.lines)
			if why := c.check(r); why != "" {
				t.Errorf("%s: %s", strings.Join(c.lines, " "), why)
			}
		})
	}
}

// TestBaselineSeesHost is the negative control of every case: the same
// probe without the directive sees the host, so each check can fail.
func TestBaselineSeesHost(t *testing.T) {
	setupMarker(t)
	r := probe(t) // the probe without any sandbox directive
	if !contains(r.TmpEntries, tmpMarker) {
		t.Errorf("baseline /tmp lacks the host's %s", tmpMarker)
	}
	for _, c := range directiveCases {
		if c.check(r) == "" {
			t.Errorf("%s: the check passes without the directive too", c.name)
		}
	}
}

func probeLines(t *testing.T, lines []string) *sandboxReport { return probe(t, lines...) }
