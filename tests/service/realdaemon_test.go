package service_test

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

// TestRealForkingDaemon runs gpsd from the gpsd.socket and gpsd.service
// that the Debian package installed, unmodified (linked into a unit
// directory): Type=forking without PIDFile=, so sockd finds the daemon
// in the service's cgroup. A client on the socket gets gpsd's answer,
// status names the forked daemon as the main process, and stop ends it.
func TestRealForkingDaemon(t *testing.T) {
	testenv.RequireRoot(t, "gpsd's socket under /run and a cgroup")
	testenv.RequireProgram(t, "gpsd")
	dir := t.TempDir()
	for _, f := range []string{"gpsd.socket", "gpsd.service"} {
		if err := os.Symlink(filepath.Join("/lib/systemd/system", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := net.Dial("tcp", "127.0.0.1:2947"); err == nil {
		c.Close()
		t.Fatal("something already listens on 127.0.0.1:2947 (a gpsd the package started?)")
	}
	s := e2e.Start(t, e2e.Options{Binary: filepath.Join(binDir, "sockd"), Args: []string{"--units", dir, "--log-level", "debug"}}, nil)
	c, err := net.DialTimeout("tcp", "127.0.0.1:2947", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("?VERSION;\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, `{"class":"VERSION"`) {
		t.Fatalf("gpsd answered %q, %v\nlog:\n%s", line, err, s.LogText())
	}
	u := waitStatus(t, s, "gpsd.service", func(u control.Unit) bool { return u.State == "running" && u.MainPID != 0 })
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(u.MainPID) + "/comm")
	if strings.TrimSpace(string(comm)) != "gpsd" {
		t.Errorf("main pid %d is %q; want the forked gpsd", u.MainPID, comm)
	}
	c.Close()
	if out, code := sockctl(t, s, "stop", "gpsd.service"); code != 0 {
		t.Fatalf("sockctl stop: %d %s", code, out)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(u.MainPID)); !os.IsNotExist(err) {
		t.Errorf("gpsd (pid %d) still runs after stop", u.MainPID)
	}
}
