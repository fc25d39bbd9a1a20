package units

import (
	"net/netip"
	"strconv"
	"strings"
)

// ListenerKind says which Listen*= directive declared a listener.
type ListenerKind string

// The listener kinds sockd supports.
const (
	Stream           ListenerKind = "stream"            // ListenStream=
	Datagram         ListenerKind = "datagram"          // ListenDatagram=
	SequentialPacket ListenerKind = "sequential-packet" // ListenSequentialPacket=
	FIFO             ListenerKind = "fifo"              // ListenFIFO=
)

// Directive returns the systemd directive that declares listeners of kind k.
func (k ListenerKind) Directive() string {
	switch k {
	case Stream:
		return "ListenStream"
	case Datagram:
		return "ListenDatagram"
	case SequentialPacket:
		return "ListenSequentialPacket"
	case FIFO:
		return "ListenFIFO"
	}
	if d, ok := moreKinds[k]; ok {
		return d
	}
	return string(k)
}

// CanAccept reports whether a listener of kind k accepts connections
// (Accept=yes is refused for the others).
func (k ListenerKind) CanAccept() bool { return k == Stream || k == SequentialPacket }

// Listener is one Listen*= line of a socket unit.
type Listener struct {
	Kind    ListenerKind
	Address Address
}

// String returns the listener as systemd would print it in list-sockets:
// the address followed by the kind in brackets is left to callers; this is
// just the address.
func (l Listener) String() string { return l.Address.String() }

// Family is the address family of a listener.
type Family string

// The address families sockd supports.
const (
	FamilyInet  Family = "inet"  // IPv4
	FamilyInet6 Family = "inet6" // IPv6, or dual stack for a bare port
	FamilyUnix  Family = "unix"  // a path or an abstract name
	FamilyVsock Family = "vsock" // AF_VSOCK
	FamilyFIFO  Family = "fifo"  // a named pipe
)

// Address is a parsed listen address, exactly as systemd.socket(5) defines
// the forms: a bare port, IPv4 "addr:port", IPv6 "[addr]:port" with an
// optional zone, a Unix path, "@abstract", "vsock:CID:PORT", or a FIFO path.
type Address struct {
	Family Family
	// IP is the address for inet and inet6; for a bare port it is the IPv6
	// unspecified address "::" and BarePort is true.
	IP netip.Addr
	// Port is the TCP/UDP port, or the vsock port.
	Port uint32
	// BarePort is true when the address was written as a port alone: it
	// binds [::]:PORT, dual stack unless BindIPv6Only=ipv6-only.
	BarePort bool
	// Path is the Unix socket or FIFO path; an abstract name starts with "@".
	Path string
	// CID is the vsock context id; VsockAnyCID when it was left empty.
	CID uint32
}

// VsockAnyCID is VMADDR_CID_ANY, used when "vsock::PORT" leaves the CID empty.
const VsockAnyCID = ^uint32(0)

// IsAbstract reports whether a is an abstract Unix socket address.
func (a Address) IsAbstract() bool {
	return a.Family == FamilyUnix && len(a.Path) > 0 && a.Path[0] == '@'
}

// HasPath reports whether a names a node in the file system (a Unix socket
// path or a FIFO), which SocketMode, SocketUser and RemoveOnStop act on.
func (a Address) HasPath() bool {
	return (a.Family == FamilyUnix || a.Family == FamilyFIFO) && !a.IsAbstract()
}

// String formats a in the syntax it is parsed from; parsing the result
// gives a back.
func (a Address) String() string {
	if s, ok := a.moreAddressString(); ok {
		return s
	}
	switch a.Family {
	case FamilyInet:
		return a.IP.String() + ":" + strconv.FormatUint(uint64(a.Port), 10)
	case FamilyInet6:
		if a.BarePort {
			return strconv.FormatUint(uint64(a.Port), 10)
		}
		return "[" + a.IP.String() + "]:" + strconv.FormatUint(uint64(a.Port), 10)
	case FamilyVsock:
		cid := ""
		if a.CID != VsockAnyCID {
			cid = strconv.FormatUint(uint64(a.CID), 10)
		}
		return "vsock:" + cid + ":" + strconv.FormatUint(uint64(a.Port), 10)
	default:
		return a.Path
	}
}

// Summary describes the unit in one line, for `sockd --check` and logs:
// "web.socket: 127.0.0.1:8080 (stream), /run/web.sock (stream) -> web.service".
func (u *Unit) Summary() string {
	parts := make([]string, len(u.Socket.Listeners))
	for i, l := range u.Socket.Listeners {
		parts[i] = l.Address.String() + " (" + string(l.Kind) + ")"
	}
	return u.Name + ".socket: " + strings.Join(parts, ", ") + " -> " + u.Service.Name
}
