package sandbox_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/tests/internal/e2e"
)

// Where sockd lacks CAP_SYS_ADMIN (root in a container that withholds
// it), a service that needs a namespace does not start, and the error
// names the namespaces and the capability: the protection is never
// dropped silently.
func TestWithoutCapSysAdmin(t *testing.T) {
	testenv.RequireRoot(t, "dropping CAP_SYS_ADMIN from root's bounding set")
	setpriv := testenv.RequireProgram(t, "setpriv")
	wrapper := filepath.Join(t.TempDir(), "sockd")
	script := fmt.Sprintf("#!/bin/sh\nexec %s --bounding-set -sys_admin %s/sockd \"$@\"\n", setpriv, binDir)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	port := e2e.FreePort(t)
	s := e2e.Start(t, e2e.Options{Binary: wrapper}, map[string]string{
		"p.socket":  fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port),
		"p.service": "[Service]\nType=exec\nExecStart=" + binDir + "/probe -report /nonexistent\nPrivateTmp=yes\n",
	})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := "creating the mount (file-system directives) namespaces needs CAP_SYS_ADMIN"
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.LogText(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sockd's log lacks %q:\n%s", want, s.LogText())
		}
	}
	if strings.Contains(s.LogText(), "probe: pid") {
		t.Errorf("the service ran without its namespace:\n%s", s.LogText())
	}
}
