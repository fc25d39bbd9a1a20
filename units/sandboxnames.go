package units

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// capabilityNames are the capabilities of capabilities(7), by number.
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// AllCapabilities is the mask of every capability sockd knows.
const AllCapabilities uint64 = 1<<41 - 1

// ParseCapability returns the number of a capability name ("CAP_NET_ADMIN",
// case-insensitive, or a number as systemd also accepts).
func ParseCapability(s string) (int, error) {
	for i, n := range capabilityNames {
		if strings.EqualFold(n, s) {
			return i, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(capabilityNames) {
		return n, nil
	}
	if sug := Suggest(strings.ToUpper(s), capabilityNames); sug != "" {
		return 0, fmt.Errorf("unknown capability %q; did you mean %s?", s, sug)
	}
	return 0, fmt.Errorf("unknown capability %q", s)
}

// CapabilityName returns the name of capability n.
func CapabilityName(n int) string {
	if n >= 0 && n < len(capabilityNames) {
		return capabilityNames[n]
	}
	return strconv.Itoa(n)
}

// addressFamilies are the names RestrictAddressFamilies= accepts.
var addressFamilies = map[string]int{
	"AF_UNIX": unix.AF_UNIX, "AF_LOCAL": unix.AF_UNIX, "AF_INET": unix.AF_INET,
	"AF_AX25": unix.AF_AX25, "AF_IPX": unix.AF_IPX, "AF_APPLETALK": unix.AF_APPLETALK,
	"AF_NETROM": unix.AF_NETROM, "AF_BRIDGE": unix.AF_BRIDGE, "AF_ATMPVC": unix.AF_ATMPVC,
	"AF_X25": unix.AF_X25, "AF_INET6": unix.AF_INET6, "AF_ROSE": unix.AF_ROSE,
	"AF_DECnet": unix.AF_DECnet, "AF_NETBEUI": unix.AF_NETBEUI, "AF_SECURITY": unix.AF_SECURITY,
	"AF_KEY": unix.AF_KEY, "AF_NETLINK": unix.AF_NETLINK, "AF_ROUTE": unix.AF_NETLINK,
	"AF_PACKET": unix.AF_PACKET, "AF_ASH": unix.AF_ASH, "AF_ECONET": unix.AF_ECONET,
	"AF_ATMSVC": unix.AF_ATMSVC, "AF_RDS": unix.AF_RDS, "AF_SNA": unix.AF_SNA,
	"AF_IRDA": unix.AF_IRDA, "AF_PPPOX": unix.AF_PPPOX, "AF_WANPIPE": unix.AF_WANPIPE,
	"AF_LLC": unix.AF_LLC, "AF_IB": unix.AF_IB, "AF_MPLS": unix.AF_MPLS, "AF_CAN": unix.AF_CAN,
	"AF_TIPC": unix.AF_TIPC, "AF_BLUETOOTH": unix.AF_BLUETOOTH, "AF_IUCV": unix.AF_IUCV,
	"AF_RXRPC": unix.AF_RXRPC, "AF_ISDN": unix.AF_ISDN, "AF_PHONET": unix.AF_PHONET,
	"AF_IEEE802154": unix.AF_IEEE802154, "AF_CAIF": unix.AF_CAIF, "AF_ALG": unix.AF_ALG,
	"AF_NFC": unix.AF_NFC, "AF_VSOCK": unix.AF_VSOCK, "AF_KCM": unix.AF_KCM,
	"AF_QIPCRTR": unix.AF_QIPCRTR, "AF_SMC": unix.AF_SMC, "AF_XDP": unix.AF_XDP,
	"AF_MCTP": unix.AF_MCTP,
}

// errnoNames maps errno names ("EPERM") to numbers.
var errnoNames = sync.OnceValue(func() map[string]unix.Errno {
	m := map[string]unix.Errno{}
	for e := unix.Errno(1); e < 4096; e++ {
		if n := unix.ErrnoName(e); n != "" {
			m[n] = e
		}
	}
	return m
})

// ParseErrno parses an errno name ("EACCES") or number (1…4095).
func ParseErrno(s string) (unix.Errno, error) {
	if e, ok := errnoNames()[s]; ok {
		return e, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 4096 {
		return unix.Errno(n), nil
	}
	return 0, fmt.Errorf("invalid errno %q, want a name such as EPERM or a number 1…4095", s)
}

// namespaceTypes are RestrictNamespaces='s names and their clone flags.
var namespaceTypes = []struct {
	name string
	flag uint64
}{
	{"cgroup", unix.CLONE_NEWCGROUP}, {"ipc", unix.CLONE_NEWIPC}, {"net", unix.CLONE_NEWNET},
	{"mnt", unix.CLONE_NEWNS}, {"pid", unix.CLONE_NEWPID}, {"user", unix.CLONE_NEWUSER},
	{"uts", unix.CLONE_NEWUTS}, {"time", unix.CLONE_NEWTIME},
}

// AllNamespaces is the clone flags of every namespace type.
const AllNamespaces uint64 = unix.CLONE_NEWCGROUP | unix.CLONE_NEWIPC | unix.CLONE_NEWNET |
	unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUSER | unix.CLONE_NEWUTS | unix.CLONE_NEWTIME

// secureBits are SecureBits='s names and their bits (capabilities(7)).
var secureBits = map[string]int{
	"noroot": 1 << 0, "noroot-locked": 1 << 1, "no-setuid-fixup": 1 << 2,
	"no-setuid-fixup-locked": 1 << 3, "keep-caps": 1 << 4, "keep-caps-locked": 1 << 5,
}
