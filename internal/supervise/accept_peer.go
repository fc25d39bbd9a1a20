package supervise

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// peer is what sockd knows about the two ends of an accepted connection,
// from which it derives what systemd derives for an Accept=yes instance
// (src/core/socket.c instance_from_socket and socket_acquire_peer,
// src/core/service.c service_spawn, src/basic/socket-util.c
// sockaddr_pretty).
type peer struct {
	local, remote unix.Sockaddr
	cred          *unix.Ucred // SO_PEERCRED, for AF_UNIX peers
}

// peerOf completes what accept4 returned for fd: the local address and,
// for a Unix peer, its credentials.
func peerOf(fd int, remote unix.Sockaddr) (peer, error) {
	local, err := unix.Getsockname(fd)
	if err != nil {
		return peer{}, fmt.Errorf("getsockname: %w", err)
	}
	p := peer{local: local, remote: remote}
	if _, ok := remote.(*unix.SockaddrUnix); ok {
		if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil && cred.Pid > 0 {
			p.cred = cred
		}
	}
	return p, nil
}

// ipOf returns the address and port of an IP socket address, an
// IPv4-mapped IPv6 address in its IPv4 form when unmap is set.
func ipOf(sa unix.Sockaddr, unmap bool) (netip.Addr, int, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), a.Port, true
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		if unmap && ip.Is4In6() {
			return ip.Unmap(), a.Port, true
		}
		if a.ZoneId != 0 {
			ip = ip.WithZone(zoneName(a.ZoneId))
		}
		return ip, a.Port, true
	}
	return netip.Addr{}, 0, false
}

func zoneName(index uint32) string {
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(index), 10)
}

// instance is the instance part of the service name systemd gives the
// n-th connection (counting from 0), in the form used before v258:
// "N-LOCALADDR:PORT-REMOTEADDR:PORT" for IP (IPv6 without brackets, and
// in the IPv4 form when both ends are IPv4-mapped), "N-PID-UID" for a
// Unix peer, "N-CID:PORT-CID:PORT" for vsock.
func (p peer) instance(n uint64) string {
	prefix := strconv.FormatUint(n, 10) + "-"
	switch r := p.remote.(type) {
	case *unix.SockaddrUnix:
		if p.cred == nil {
			return prefix + "unknown"
		}
		return prefix + strconv.Itoa(int(p.cred.Pid)) + "-" + strconv.Itoa(int(p.cred.Uid))
	case *unix.SockaddrVM:
		if l, ok := p.local.(*unix.SockaddrVM); ok {
			return fmt.Sprintf("%s%d:%d-%d:%d", prefix, l.CID, l.Port, r.CID, r.Port)
		}
	}
	la, lport, ok1 := ipOf(p.local, false)
	ra, rport, ok2 := ipOf(p.remote, false)
	if !ok1 || !ok2 {
		return prefix + "unknown"
	}
	if la.Is4In6() && ra.Is4In6() {
		la, ra = la.Unmap(), ra.Unmap()
	}
	la, ra = la.WithZone(""), ra.WithZone("")
	return prefix + la.String() + ":" + strconv.Itoa(lport) + "-" + ra.String() + ":" + strconv.Itoa(rport)
}

// env returns REMOTE_ADDR and REMOTE_PORT as systemd sets them: the
// peer's address (an IPv4-mapped one in IPv4 form) and port for IP and
// vsock; for a Unix peer only REMOTE_ADDR, its path or @abstract name,
// and nothing if it is unnamed.
func (p peer) env() []string {
	switch r := p.remote.(type) {
	case *unix.SockaddrUnix:
		if name := unixName(r); name != "" {
			return []string{"REMOTE_ADDR=" + name}
		}
		return nil
	case *unix.SockaddrVM:
		return []string{"REMOTE_ADDR=vsock:" + strconv.FormatUint(uint64(r.CID), 10), "REMOTE_PORT=" + strconv.FormatUint(uint64(r.Port), 10)}
	}
	ip, port, ok := ipOf(p.remote, true)
	if !ok {
		return nil
	}
	return []string{"REMOTE_ADDR=" + ip.String(), "REMOTE_PORT=" + strconv.Itoa(port)}
}

// unixName is the bound name of a Unix peer, "" for an unnamed one
// (x/sys/unix reports an unnamed address as "@", like an abstract one
// whose name is empty; the kernel's autobind never gives that name).
func unixName(sa *unix.SockaddrUnix) string {
	if sa.Name == "@" {
		return ""
	}
	return sa.Name
}

// source is the key MaxConnectionsPerSource= counts by: the peer's IP
// address (IPv4-mapped addresses as IPv4, so that one client is one
// source whichever listener it reached), its vsock CID, or, for a Unix
// peer, its UID, as systemd ≥ 256 does.
func (p peer) source() string {
	switch r := p.remote.(type) {
	case *unix.SockaddrUnix:
		if p.cred == nil {
			return "uid:unknown"
		}
		return "uid:" + strconv.Itoa(int(p.cred.Uid))
	case *unix.SockaddrVM:
		return "vsock:" + strconv.FormatUint(uint64(r.CID), 10)
	}
	ip, _, _ := ipOf(p.remote, true)
	return ip.String()
}

// String describes the peer for logs and status: "127.0.0.1:4000",
// "[::1]:4000", a Unix peer's name, or its pid and uid.
func (p peer) String() string {
	switch r := p.remote.(type) {
	case *unix.SockaddrUnix:
		name := unixName(r)
		switch {
		case p.cred != nil && name != "":
			return fmt.Sprintf("%s (pid %d, uid %d)", name, p.cred.Pid, p.cred.Uid)
		case p.cred != nil:
			return fmt.Sprintf("pid %d, uid %d", p.cred.Pid, p.cred.Uid)
		case name != "":
			return name
		}
		return "unnamed"
	case *unix.SockaddrVM:
		return fmt.Sprintf("vsock:%d:%d", r.CID, r.Port)
	}
	ip, port, ok := ipOf(p.remote, true)
	if !ok {
		return "unknown"
	}
	return netip.AddrPortFrom(ip, uint16(port)).String()
}
