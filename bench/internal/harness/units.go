package harness

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Format is a unit file format.
type Format string

// The unit formats sockd reads.
const (
	TOML    Format = "toml"    // NAME.toml
	Systemd Format = "systemd" // NAME.socket + NAME.service
)

// Unit is what the generated units vary in.
type Unit struct {
	Name      string
	Listen    string // a ListenStream= address
	ExecStart string
	// NoTriggerLimit disables the trigger limit (TriggerLimitBurst=0,
	// TriggerLimitIntervalSec=0) so that back-to-back activations are
	// never refused.
	NoTriggerLimit bool
	Environment    []string
}

// WriteUnit writes u into dir in format f.
func WriteUnit(dir string, f Format, u Unit) error {
	switch f {
	case TOML:
		var b strings.Builder
		fmt.Fprintf(&b, "[socket]\nlisten_stream = [%q]\n", u.Listen)
		if u.NoTriggerLimit {
			b.WriteString("trigger_limit_interval_sec = 0\ntrigger_limit_burst = 0\n")
		}
		fmt.Fprintf(&b, "\n[service]\nexec_start = %q\n", u.ExecStart)
		if len(u.Environment) > 0 {
			fmt.Fprintf(&b, "environment = [")
			for i, e := range u.Environment {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", e)
			}
			b.WriteString("]\n")
		}
		return os.WriteFile(filepath.Join(dir, u.Name+".toml"), []byte(b.String()), 0o644)
	case Systemd:
		var s strings.Builder
		fmt.Fprintf(&s, "[Socket]\nListenStream=%s\n", u.Listen)
		if u.NoTriggerLimit {
			s.WriteString("TriggerLimitIntervalSec=0\nTriggerLimitBurst=0\n")
		}
		var v strings.Builder
		fmt.Fprintf(&v, "[Service]\nExecStart=%s\n", u.ExecStart)
		for _, e := range u.Environment {
			fmt.Fprintf(&v, "Environment=%q\n", e)
		}
		if err := os.WriteFile(filepath.Join(dir, u.Name+".socket"), []byte(s.String()), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, u.Name+".service"), []byte(v.String()), 0o644)
	}
	return fmt.Errorf("unknown unit format %q", f)
}

// Listen says where the n generated units listen.
type Listen string

// The listener kinds of generated units.
const (
	ListenTCP  Listen = "tcp"  // 127.0.0.1:PORT, PORT = base, base+1, …
	ListenUnix Listen = "unix" // DIR/NAME.sock
)

// Addresses returns the n ListenStream= addresses: TCP ports from
// portBase on 127.0.0.1, or Unix socket paths in sockDir.
func Addresses(kind Listen, n, portBase int, sockDir string) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		switch kind {
		case ListenTCP:
			if portBase+n-1 > 65535 {
				return nil, fmt.Errorf("ports %d+%d do not fit", portBase, n)
			}
			out[i] = fmt.Sprintf("127.0.0.1:%d", portBase+i)
		case ListenUnix:
			out[i] = filepath.Join(sockDir, fmt.Sprintf("u%05d.sock", i))
		default:
			return nil, fmt.Errorf("unknown listener kind %q", kind)
		}
	}
	return out, nil
}

// WriteUnits writes one unit per address, named u00000, u00001, …, all
// starting execStart.
func WriteUnits(dir string, f Format, addrs []string, execStart string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, a := range addrs {
		if err := WriteUnit(dir, f, Unit{Name: fmt.Sprintf("u%05d", i), Listen: a, ExecStart: execStart}); err != nil {
			return err
		}
	}
	return nil
}

// CheckPortsFree binds and closes 127.0.0.1:PORT for every port of
// [base, base+n), and fails naming the first port in use. Listening
// sockets closed without connections leave nothing behind.
func CheckPortsFree(base, n int) error {
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return fmt.Errorf("port range %d-%d is not free: %w", base, base+n-1, err)
		}
		l.Close()
	}
	return nil
}

// FreePort returns a TCP port that is free on 127.0.0.1 right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
