package service_test

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
)

// dbusUnits is a Type=dbus service (implied by BusName=) running the probe.
func dbusUnits() map[string]string {
	return probeUnits("bus", "", []string{"BusName=org.sockd.Test", "TimeoutStartSec=20s"})
}

// TestDbusNoSystemBus: without a reachable system bus the start fails
// and says why.
func TestDbusNoSystemBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus_socket")
	s := start(t, dbusUnits())
	sockctl(t, s, "start", "bus.service")
	waitLog(t, s, "Type=dbus: no system bus reachable")
	waitStatus(t, s, "bus.service", func(u control.Unit) bool { return u.State == "listening" && u.Result == "resources" })
}

// TestDbusReady: on a private bus given as the system bus, the service
// counts as started once BusName= has an owner (here the test takes the
// name on the service's behalf).
func TestDbusReady(t *testing.T) {
	daemon := testenv.RequireProgram(t, "dbus-daemon")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	s := start(t, dbusUnits())
	done := make(chan string, 1)
	go func() {
		out, _ := sockctl(t, s, "start", "bus.service")
		done <- out
	}()
	waitStatus(t, s, "bus.service", func(u control.Unit) bool { return u.State == "starting" && u.MainPID != 0 })
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if reply, err := conn.RequestName("org.sockd.Test", 0); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v, %v", reply, err)
	}
	<-done
	waitLog(t, s, "the service took its bus name")
	if u := unitStatus(t, s, "bus.service"); u.State != "running" {
		t.Errorf("state %s after the bus name appeared", u.State)
	}
}
