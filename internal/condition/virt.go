package condition

import (
	"os"
	"strings"

	"github.com/sockd/sockd/units"
)

// Virtualization detection, by systemd-detect-virt's ids, from what a
// process outside PID 1 can read.

// detectContainer returns the container technology sockd runs in, or "".
func detectContainer() string {
	if b, err := os.ReadFile("/run/systemd/container"); err == nil {
		return strings.TrimSpace(string(b))
	}
	if _, err := os.Stat("/run/.containerenv"); err == nil {
		return "podman"
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		return "docker"
	}
	if b, err := os.ReadFile("/proc/1/environ"); err == nil {
		for _, kv := range strings.Split(string(b), "\x00") {
			if v, ok := strings.CutPrefix(kv, "container="); ok && v != "" {
				return v
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil && strings.Contains(strings.ToLower(string(b)), "microsoft") {
		return "wsl"
	}
	return ""
}

// vmVendors maps DMI vendor strings to systemd's VM ids.
var vmVendors = []struct{ match, id string }{
	{"KVM", "kvm"}, {"Amazon EC2", "amazon"}, {"QEMU", "qemu"}, {"VMware", "vmware"}, {"VMW", "vmware"},
	{"innotek GmbH", "oracle"}, {"VirtualBox", "oracle"}, {"Xen", "xen"}, {"Bochs", "bochs"},
	{"Parallels", "parallels"}, {"BHYVE", "bhyve"}, {"Hyper-V", "microsoft"}, {"Google Compute Engine", "google"},
	{"Apple Virtualization", "apple"},
}

// detectVM returns the hypervisor's id, "vm-other" for one without a
// known name, or "".
func detectVM() string {
	for _, f := range []string{"product_name", "sys_vendor", "board_vendor", "bios_vendor", "product_version"} {
		b, err := os.ReadFile("/sys/class/dmi/id/" + f)
		if err != nil {
			continue
		}
		for _, v := range vmVendors {
			if strings.HasPrefix(strings.TrimSpace(string(b)), v.match) {
				return v.id
			}
		}
	}
	if b, err := os.ReadFile("/sys/hypervisor/type"); err == nil && strings.TrimSpace(string(b)) == "xen" {
		return "xen"
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && strings.Contains(string(b), " hypervisor") {
		return "vm-other"
	}
	return ""
}

// virtualization checks ConditionVirtualization=: a boolean, "vm",
// "container", or a technology id ("kvm", "docker", …).
func virtualization(v string) (bool, error) {
	container, vm := detectContainer(), ""
	if container == "" {
		vm = detectVM()
	}
	if b, err := units.ParseBool(v); err == nil {
		return (container != "" || vm != "") == b, nil
	}
	switch v {
	case "vm":
		return vm != "", nil
	case "container":
		return container != "", nil
	case "private-users":
		b, _ := os.ReadFile("/proc/self/uid_map")
		return strings.Join(strings.Fields(string(b)), " ") != "0 0 4294967295", nil
	}
	return v == container || v == vm, nil
}
