package units

import (
	"fmt"
	"strconv"
	"strings"
)

// The listener kinds that are not sockets bound to an address
// (systemd.socket(5)).
const (
	Netlink      ListenerKind = "netlink"       // ListenNetlink=
	Special      ListenerKind = "special"       // ListenSpecial=
	MessageQueue ListenerKind = "message-queue" // ListenMessageQueue=
	USBFunction  ListenerKind = "usb-function"  // ListenUSBFunction=
)

// The address families of those listeners.
const (
	FamilyNetlink Family = "netlink" // Path is the family's name, Port the group mask
	FamilySpecial Family = "special" // Path is a character device or a file in /proc or /sys
	FamilyMQueue  Family = "mqueue"  // Path is the queue's name, "/name"
	FamilyUSB     Family = "usb"     // Path is a FunctionFS mount point
)

// moreKinds maps the kinds above to their directives.
var moreKinds = map[ListenerKind]string{
	Netlink:      "ListenNetlink",
	Special:      "ListenSpecial",
	MessageQueue: "ListenMessageQueue",
	USBFunction:  "ListenUSBFunction",
}

// NetlinkFamilies maps the family names ListenNetlink= accepts to their
// protocol numbers (netlink(7)); a number is accepted too.
var NetlinkFamilies = map[string]int{
	"route": 0, "usersock": 2, "firewall": 3, "inet-diag": 4, "sock-diag": 4,
	"nflog": 5, "xfrm": 6, "selinux": 7, "iscsi": 8, "audit": 9,
	"fib-lookup": 10, "connector": 11, "netfilter": 12, "ip6-fw": 13,
	"dnrtmsg": 14, "kobject-uevent": 15, "generic": 16, "scsitransport": 18,
	"ecryptfs": 19, "rdma": 20, "crypto": 21, "smc": 22,
}

// NetlinkProtocol returns the protocol number of a netlink address's
// family (its Path).
func (a Address) NetlinkProtocol() (int, error) {
	if n, ok := NetlinkFamilies[a.Path]; ok {
		return n, nil
	}
	n, err := strconv.ParseUint(a.Path, 10, 8)
	if err != nil || n >= 32 { // MAX_LINKS
		return 0, fmt.Errorf("unknown netlink family %q", a.Path)
	}
	return int(n), nil
}

// parseMoreAddress parses the value of ListenNetlink=, ListenSpecial=,
// ListenMessageQueue= or ListenUSBFunction=.
func parseMoreAddress(kind ListenerKind, s string) (Address, error) {
	switch kind {
	case Netlink:
		return parseNetlink(s)
	case Special:
		if err := checkAbsolute(s); err != nil {
			return Address{}, err
		}
		return Address{Family: FamilySpecial, Path: s}, nil
	case MessageQueue:
		// mq_overview(7): "/name", no other slash, at most NAME_MAX.
		if !strings.HasPrefix(s, "/") || strings.Contains(s[1:], "/") || len(s) < 2 || len(s) > 255 {
			return Address{}, fmt.Errorf("message queue name %q is not \"/name\" (one leading slash, 1 to 254 more characters)", s)
		}
		return Address{Family: FamilyMQueue, Path: s}, nil
	case USBFunction:
		if err := checkAbsolute(s); err != nil {
			return Address{}, err
		}
		return Address{Family: FamilyUSB, Path: s}, nil
	}
	return Address{}, fmt.Errorf("unknown listener kind %q", kind)
}

// parseNetlink parses "FAMILY [GROUP]": a family name or number, and an
// optional multicast group mask, bound as nl_groups, as systemd does.
func parseNetlink(s string) (Address, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 2 {
		return Address{}, fmt.Errorf("invalid netlink address %q, want FAMILY [GROUP]", s)
	}
	a := Address{Family: FamilyNetlink, Path: fields[0]}
	if _, err := a.NetlinkProtocol(); err != nil {
		return Address{}, err
	}
	if len(fields) == 2 {
		g, err := strconv.ParseUint(fields[1], 10, 32)
		if err != nil {
			return Address{}, fmt.Errorf("invalid netlink group %q", fields[1])
		}
		a.Port = uint32(g)
	}
	return a, nil
}

// moreAddressString formats the addresses of the kinds above.
func (a Address) moreAddressString() (string, bool) {
	if a.Family == FamilyNetlink {
		return a.Path + " " + strconv.FormatUint(uint64(a.Port), 10), true
	}
	return "", false
}
