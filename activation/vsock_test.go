package activation

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

func vsockListener(kind units.ListenerKind, port uint32) units.Listener {
	return units.Listener{Kind: kind, Address: units.Address{Family: units.FamilyVsock, CID: units.VsockAnyCID, Port: port}}
}

func TestVsock(t *testing.T) {
	kinds := map[units.ListenerKind]int{
		units.Stream: unix.SOCK_STREAM, units.Datagram: unix.SOCK_DGRAM, units.SequentialPacket: unix.SOCK_SEQPACKET,
	}
	for kind, typ := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			fd, err := unix.Socket(unix.AF_VSOCK, typ|unix.SOCK_CLOEXEC, 0)
			if kind == units.Datagram && errors.Is(err, unix.ENODEV) {
				// Not something CI can install: the loopback and
				// virtio transports carry no vsock datagrams.
				t.Skipf("this kernel's vsock transports have no datagram sockets: %v", err)
			}
			testenv.Require(t, err == nil, fmt.Sprintf("the kernel has no vsock %s sockets: %v", kind, err))
			unix.Close(fd)
			port := uint32(20000 + os.Getpid()%10000)
			l := vsockListener(kind, port)
			ls, err := Bind("t", newSocket(l))
			noTransport := errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV)
			testenv.Require(t, !noTransport, fmt.Sprintf("no vsock transport to bind on: %v", err))
			if err != nil {
				t.Fatal(err)
			}
			defer ls[0].Close()
			if got := boundPort(t, ls[0].Fd()); got != port {
				t.Errorf("bound port %d, want %d", got, port)
			}
			if ok, err := Matches(ls[0].Fd(), l); !ok || err != nil {
				t.Errorf("Matches = %v, %v", ok, err)
			}
		})
	}
}
