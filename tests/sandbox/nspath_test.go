package sandbox_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
)

// nsInode is the "net:[INODE]" form readlink gives for a namespace file.
func nsInode(t *testing.T, kind, path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:[%d]", kind, st.Ino)
}

// NetworkNamespacePath= and IPCNamespacePath= join namespaces that exist
// already (here: made by ip-netns(8) and unshare(1) for the test).
func TestNamespacePaths(t *testing.T) {
	testenv.RequireRoot(t, "creating network and IPC namespaces")
	ip := testenv.RequireProgram(t, "ip")
	unshare := testenv.RequireProgram(t, "unshare")
	name := fmt.Sprintf("sockd-sbx-%d", os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "delete", name).Run() })
	ipcns := filepath.Join(t.TempDir(), "ipc")
	if err := os.WriteFile(ipcns, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(unshare, "--ipc="+ipcns, "true").CombinedOutput(); err != nil {
		t.Fatalf("unshare --ipc: %v: %s", err, out)
	}
	t.Cleanup(func() { unix.Unmount(ipcns, unix.MNT_DETACH) })
	netns := "/run/netns/" + name
	r := probe(t, "NetworkNamespacePath="+netns, "IPCNamespacePath="+ipcns)
	if got, want := r.Namespaces["net"], nsInode(t, "net", netns); got != want {
		t.Errorf("net namespace %s; want %s", got, want)
	}
	if got, want := r.Namespaces["ipc"], nsInode(t, "ipc", ipcns); got != want {
		t.Errorf("ipc namespace %s; want %s", got, want)
	}
	if len(r.Interfaces) != 1 || r.Interfaces[0] != "lo" {
		t.Errorf("interfaces %v; want the new namespace's lo", r.Interfaces)
	}
}

// SystemCallLog= loads a logging filter; the calls still succeed.
func TestSystemCallLog(t *testing.T) {
	r := probe(t, "SystemCallLog=getcpu")
	if r.Status["Seccomp_filters"] != "1" || r.Attempts["getcpu"] != "ok" {
		t.Errorf("Seccomp_filters %s, getcpu %s; want one filter, getcpu allowed", r.Status["Seccomp_filters"], r.Attempts["getcpu"])
	}
}
