package units

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// unixPathMax is the size of sun_path in struct sockaddr_un (unix(7)).
const unixPathMax = 108

// ParseAddress parses a Listen*= value of the given kind exactly as
// systemd.socket(5) defines the forms: "/path" (a Unix socket, or the FIFO
// for ListenFIFO=), "@abstract", "vsock:CID:PORT", a bare port ("8080",
// [::]:8080 dual stack), "1.2.3.4:80", "[::1]:80", and a scoped IPv6
// address written "[fe80::1%eth0]:80" or, as systemd prints it,
// "[fe80::1]:80%eth0". Host names are refused: sockd never resolves names.
func ParseAddress(kind ListenerKind, s string) (Address, error) {
	if s == "" {
		return Address{}, fmt.Errorf("empty address")
	}
	if _, ok := moreKinds[kind]; ok {
		return parseMoreAddress(kind, s)
	}
	if kind == FIFO {
		if !strings.HasPrefix(s, "/") {
			return Address{}, fmt.Errorf("FIFO path %q is not absolute", s)
		}
		return Address{Family: FamilyFIFO, Path: s}, nil
	}
	switch {
	case s[0] == '/':
		if len(s) >= unixPathMax {
			return Address{}, fmt.Errorf("socket path %q is %d bytes, longer than the %d that fit in sun_path", s, len(s), unixPathMax-1)
		}
		if len(s) == 1 {
			return Address{}, fmt.Errorf("socket path %q names a directory", s)
		}
		return Address{Family: FamilyUnix, Path: s}, nil
	case s[0] == '@':
		// Like systemd's sockaddr_un_set_path, an abstract name must leave
		// room for a terminating NUL: "@" and at most 106 more bytes.
		if len(s) >= unixPathMax {
			return Address{}, fmt.Errorf("abstract socket name %q is longer than %d bytes", s, unixPathMax-1)
		}
		if len(s) == 1 {
			return Address{}, fmt.Errorf("empty abstract socket name")
		}
		return Address{Family: FamilyUnix, Path: s}, nil
	case strings.HasPrefix(s, "vsock:"):
		return parseVsock(s)
	case isDigits(s):
		port, err := parsePort(s)
		if err != nil {
			return Address{}, err
		}
		return Address{Family: FamilyInet6, IP: netip.IPv6Unspecified(), Port: port, BarePort: true}, nil
	case s[0] == '[':
		return parseInet6(s)
	}
	return parseInet4(s)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func parsePort(s string) (uint32, error) {
	p, err := strconv.ParseUint(s, 10, 32)
	if err != nil || !isDigits(s) || p == 0 || p > 65535 {
		return 0, fmt.Errorf("invalid port %q: want 1…65535", s)
	}
	return uint32(p), nil
}

// parseInet6 parses "[addr]:port", "[addr%zone]:port" and "[addr]:port%zone".
func parseInet6(s string) (Address, error) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return Address{}, fmt.Errorf("invalid IPv6 address %q: missing ']'", s)
	}
	host, rest := s[1:end], s[end+1:]
	if !strings.HasPrefix(rest, ":") {
		return Address{}, fmt.Errorf("invalid address %q: no port", s)
	}
	portStr, zone, hasZone := strings.Cut(rest[1:], "%")
	if hasZone {
		if strings.Contains(host, "%") {
			return Address{}, fmt.Errorf("invalid address %q: two interface scopes", s)
		}
		if zone == "" {
			return Address{}, fmt.Errorf("invalid address %q: empty interface scope", s)
		}
		if err := checkIfName(zone); err != nil {
			return Address{}, fmt.Errorf("address %q: %w", s, err)
		}
		host += "%" + zone
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is6() || ip.Is4In6() && ip.Zone() != "" {
		return Address{}, fmt.Errorf("invalid IPv6 address %q", host)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return Address{}, fmt.Errorf("address %q: %w", s, err)
	}
	return Address{Family: FamilyInet6, IP: ip, Port: port}, nil
}

func parseInet4(s string) (Address, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Address{}, fmt.Errorf("invalid address %q: want PORT, IPv4:PORT, [IPv6]:PORT, /path, @abstract or vsock:CID:PORT", s)
	}
	ip, err := netip.ParseAddr(s[:i])
	if err != nil || !ip.Is4() {
		return Address{}, fmt.Errorf("invalid address %q: %q is not an IPv4 address (host names are not resolved; IPv6 needs brackets)", s, s[:i])
	}
	port, err := parsePort(s[i+1:])
	if err != nil {
		return Address{}, fmt.Errorf("address %q: %w", s, err)
	}
	return Address{Family: FamilyInet, IP: ip, Port: port}, nil
}

// vsockCIDs are the CID names systemd's vsock_parse_cid accepts.
var vsockCIDs = map[string]uint32{"hypervisor": 0, "local": 1, "host": 2, "any": VsockAnyCID, "-1": VsockAnyCID}

// parseVsock parses "vsock:CID:PORT"; an empty CID means VMADDR_CID_ANY.
func parseVsock(s string) (Address, error) {
	cidStr, portStr, ok := strings.Cut(strings.TrimPrefix(s, "vsock:"), ":")
	if !ok {
		return Address{}, fmt.Errorf("invalid vsock address %q: want vsock:CID:PORT", s)
	}
	cid := VsockAnyCID
	if named, ok := vsockCIDs[cidStr]; ok {
		cid = named
	} else if cidStr != "" {
		v, err := strconv.ParseUint(cidStr, 10, 32)
		if err != nil || !isDigits(cidStr) {
			return Address{}, fmt.Errorf("invalid vsock CID %q", cidStr)
		}
		cid = uint32(v)
	}
	// Port 0 is an ordinary vsock port; VMADDR_PORT_ANY (2^32-1) is not.
	port, err := strconv.ParseUint(portStr, 10, 32)
	if err != nil || !isDigits(portStr) || port == 1<<32-1 {
		return Address{}, fmt.Errorf("invalid vsock port %q", portStr)
	}
	return Address{Family: FamilyVsock, CID: cid, Port: uint32(port)}, nil
}
