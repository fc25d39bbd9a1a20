package units

import (
	"net/netip"
	"strings"
	"testing"
)

// ParseAddress follows the forms of systemd.socket(5) and
// socket_address_parse (src/shared/socket-netlink.c). Deliberate
// differences from systemd are marked "sockd:".

func TestParseAddress(t *testing.T) {
	ip := netip.MustParseAddr
	path107 := "/" + strings.Repeat("p", 106)
	abstract107 := "@" + strings.Repeat("a", 106)
	cases := []struct {
		kind   ListenerKind
		in     string
		want   Address
		String string // what Address.String gives, when not in
	}{
		{Stream, "8080", Address{Family: FamilyInet6, IP: netip.IPv6Unspecified(), Port: 8080, BarePort: true}, ""},
		{Datagram, "1", Address{Family: FamilyInet6, IP: netip.IPv6Unspecified(), Port: 1, BarePort: true}, ""},
		{Stream, "65535", Address{Family: FamilyInet6, IP: netip.IPv6Unspecified(), Port: 65535, BarePort: true}, ""},
		{Stream, "127.0.0.1:80", Address{Family: FamilyInet, IP: ip("127.0.0.1"), Port: 80}, ""},
		{Datagram, "0.0.0.0:53", Address{Family: FamilyInet, IP: ip("0.0.0.0"), Port: 53}, ""},
		{Stream, "[::1]:80", Address{Family: FamilyInet6, IP: ip("::1"), Port: 80}, ""},
		{Stream, "[::]:80", Address{Family: FamilyInet6, IP: ip("::"), Port: 80}, ""}, // not a bare port
		{Stream, "[2001:db8::1]:443", Address{Family: FamilyInet6, IP: ip("2001:db8::1"), Port: 443}, ""},
		{Stream, "[::ffff:192.0.2.1]:80", Address{Family: FamilyInet6, IP: ip("::ffff:192.0.2.1"), Port: 80}, ""},
		// The scope as systemd writes it, after the port, and (sockd:
		// systemd refuses this form) inside the brackets, which is how
		// Address.String writes it.
		{Stream, "[fe80::1]:80%eth0", Address{Family: FamilyInet6, IP: ip("fe80::1%eth0"), Port: 80}, "[fe80::1%eth0]:80"},
		{Stream, "[fe80::1%eth0]:80", Address{Family: FamilyInet6, IP: ip("fe80::1%eth0"), Port: 80}, ""},
		{Stream, "[fe80::1]:80%2", Address{Family: FamilyInet6, IP: ip("fe80::1%2"), Port: 80}, "[fe80::1%2]:80"},
		{Stream, "/run/web.sock", Address{Family: FamilyUnix, Path: "/run/web.sock"}, ""},
		{SequentialPacket, path107, Address{Family: FamilyUnix, Path: path107}, ""}, // 107 bytes and the NUL fill sun_path
		{Stream, "@web", Address{Family: FamilyUnix, Path: "@web"}, ""},
		{Datagram, abstract107, Address{Family: FamilyUnix, Path: abstract107}, ""},
		{Stream, "vsock:2:1234", Address{Family: FamilyVsock, CID: 2, Port: 1234}, ""},
		{Stream, "vsock::1234", Address{Family: FamilyVsock, CID: VsockAnyCID, Port: 1234}, ""},
		{Stream, "vsock:3:0", Address{Family: FamilyVsock, CID: 3, Port: 0}, ""}, // port 0 is ordinary in AF_VSOCK
		{Stream, "vsock:hypervisor:80", Address{Family: FamilyVsock, CID: 0, Port: 80}, "vsock:0:80"},
		{Stream, "vsock:local:80", Address{Family: FamilyVsock, CID: 1, Port: 80}, "vsock:1:80"},
		{Stream, "vsock:host:80", Address{Family: FamilyVsock, CID: 2, Port: 80}, "vsock:2:80"},
		{Stream, "vsock:any:80", Address{Family: FamilyVsock, CID: VsockAnyCID, Port: 80}, "vsock::80"},
		{Stream, "vsock:-1:80", Address{Family: FamilyVsock, CID: VsockAnyCID, Port: 80}, "vsock::80"},
		{FIFO, "/run/web.fifo", Address{Family: FamilyFIFO, Path: "/run/web.fifo"}, ""},
		{FIFO, "/" + strings.Repeat("f", 200), Address{Family: FamilyFIFO, Path: "/" + strings.Repeat("f", 200)}, ""}, // no sun_path limit
	}
	for _, c := range cases {
		got, err := ParseAddress(c.kind, c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseAddress(%s, %q) = %+v, %v; want %+v, nil", c.kind, c.in, got, err, c.want)
			continue
		}
		wantString := c.String
		if wantString == "" {
			wantString = c.in
		}
		if s := got.String(); s != wantString {
			t.Errorf("ParseAddress(%s, %q).String() = %s; want %s", c.kind, c.in, s, wantString)
		}
		if back, err := ParseAddress(c.kind, got.String()); err != nil || back != got {
			t.Errorf("ParseAddress(%s, %q) = %+v, %v; want %+v (the round trip of %q)", c.kind, got.String(), back, err, got, c.in)
		}
	}
}

func TestParseAddressErrors(t *testing.T) {
	path108 := "/" + strings.Repeat("p", 107)
	abstract108 := "@" + strings.Repeat("a", 107)
	cases := []struct {
		kind     ListenerKind
		in, want string
	}{
		{Stream, "", "empty address"},
		{FIFO, "", "empty address"},
		{Stream, "0", `invalid port "0": want 1…65535`},
		{Stream, "65536", `invalid port "65536": want 1…65535`},
		{Stream, "99999999999", `invalid port "99999999999": want 1…65535`},
		{Stream, "localhost:80", `invalid address "localhost:80": "localhost" is not an IPv4 address (host names are not resolved; IPv6 needs brackets)`},
		{Stream, "::1:80", `invalid address "::1:80": "::1" is not an IPv4 address (host names are not resolved; IPv6 needs brackets)`},
		{Stream, "example.com", `invalid address "example.com": want PORT, IPv4:PORT, [IPv6]:PORT, /path, @abstract or vsock:CID:PORT`},
		{Stream, "127.0.0.1", `invalid address "127.0.0.1": want PORT, IPv4:PORT, [IPv6]:PORT, /path, @abstract or vsock:CID:PORT`},
		{Stream, "run/web.sock", `invalid address "run/web.sock": want PORT, IPv4:PORT, [IPv6]:PORT, /path, @abstract or vsock:CID:PORT`},
		// sockd: systemd's parse_ip_port (strtoul with base 0) also takes
		// "0x50" and "+80"; sockd takes decimal ports only.
		{Stream, "0x50", `invalid address "0x50": want PORT, IPv4:PORT, [IPv6]:PORT, /path, @abstract or vsock:CID:PORT`},
		{Stream, "1.2.3.4:0", `address "1.2.3.4:0": invalid port "0": want 1…65535`},
		{Stream, "1.2.3.4:65536", `address "1.2.3.4:65536": invalid port "65536": want 1…65535`},
		{Stream, "1.2.3.4:", `address "1.2.3.4:": invalid port "": want 1…65535`},
		{Stream, "1.2.3.4:+80", `address "1.2.3.4:+80": invalid port "+80": want 1…65535`},
		{Stream, "1.2.3:80", `invalid address "1.2.3:80": "1.2.3" is not an IPv4 address (host names are not resolved; IPv6 needs brackets)`},
		// sockd: systemd accepts a scope after an IPv4 address and drops it.
		{Stream, "1.2.3.4:80%eth0", `address "1.2.3.4:80%eth0": invalid port "80%eth0": want 1…65535`},
		{Stream, "[::1]", `invalid address "[::1]": no port`},
		{Stream, "[::1]80", `invalid address "[::1]80": no port`},
		{Stream, "[::1]:", `address "[::1]:": invalid port "": want 1…65535`},
		{Stream, "[::1]:0", `address "[::1]:0": invalid port "0": want 1…65535`},
		{Stream, "[::1:80", `invalid IPv6 address "[::1:80": missing ']'`},
		{Stream, "[1.2.3.4]:80", `invalid IPv6 address "1.2.3.4"`},
		{Stream, "[localhost]:80", `invalid IPv6 address "localhost"`},
		{Stream, "[fe80::1%eth0]:80%eth1", `invalid address "[fe80::1%eth0]:80%eth1": two interface scopes`},
		{Stream, "[fe80::1]:80%", `invalid address "[fe80::1]:80%": empty interface scope`},
		{Stream, "[fe80::1]:80%eth/0", `address "[fe80::1]:80%eth/0": invalid interface name "eth/0"`},
		{Stream, "[fe80::1]:80%averyveryverylongname", `address "[fe80::1]:80%averyveryverylongname": invalid interface name "averyveryverylongname"`},
		{Stream, "/", `socket path "/" names a directory`},
		{Stream, path108, `socket path "` + path108 + `" is 108 bytes, longer than the 107 that fit in sun_path`},
		{Stream, "@", "empty abstract socket name"},
		{Stream, abstract108, `abstract socket name "` + abstract108 + `" is longer than 107 bytes`},
		{Stream, "vsock:1234", `invalid vsock address "vsock:1234": want vsock:CID:PORT`},
		{Stream, "vsock:x:1", `invalid vsock CID "x"`},
		{Stream, "vsock:4294967296:1", `invalid vsock CID "4294967296"`},
		{Stream, "vsock:2:", `invalid vsock port ""`},
		{Stream, "vsock:2:4294967295", `invalid vsock port "4294967295"`}, // VMADDR_PORT_ANY
		{Stream, "vsock:2:-1", `invalid vsock port "-1"`},
		{FIFO, "web.fifo", `FIFO path "web.fifo" is not absolute`},
		{FIFO, "@web", `FIFO path "@web" is not absolute`},
		{FIFO, "8080", `FIFO path "8080" is not absolute`},
	}
	for _, c := range cases {
		got, err := ParseAddress(c.kind, c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("ParseAddress(%s, %q) = %+v, %v; want error %s", c.kind, c.in, got, err, c.want)
		}
	}
}

func TestAddressKinds(t *testing.T) {
	cases := []struct {
		kind              ListenerKind
		in                string
		abstract, hasPath bool
		directive         string
		canAccept         bool
	}{
		{Stream, "/run/a.sock", false, true, "ListenStream", true},
		{SequentialPacket, "@a", true, false, "ListenSequentialPacket", true},
		{Datagram, "53", false, false, "ListenDatagram", false},
		{FIFO, "/run/a.fifo", false, true, "ListenFIFO", false},
	}
	for _, c := range cases {
		a, err := ParseAddress(c.kind, c.in)
		if err != nil {
			t.Fatalf("ParseAddress(%s, %q): %v", c.kind, c.in, err)
		}
		if a.IsAbstract() != c.abstract || a.HasPath() != c.hasPath {
			t.Errorf("%q: got IsAbstract %v, HasPath %v; want %v, %v", c.in, a.IsAbstract(), a.HasPath(), c.abstract, c.hasPath)
		}
		if c.kind.Directive() != c.directive || c.kind.CanAccept() != c.canAccept {
			t.Errorf("%s: got Directive %s, CanAccept %v; want %s, %v", c.kind, c.kind.Directive(), c.kind.CanAccept(), c.directive, c.canAccept)
		}
	}
}
