package packaging

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadyNotification runs the packaged sockd as a systemd Type=notify
// service would: with NOTIFY_SOCKET set, it must say READY=1 with its
// MAINPID once it serves, and STOPPING=1 when SIGTERM stops it.
func TestReadyNotification(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	os.MkdirAll(filepath.Join(dir, "units"), 0o755)
	cmd := exec.Command(filepath.Join(dist, "stage", "sockd"), "--units", filepath.Join(dir, "units"), "--runtime-dir", filepath.Join(dir, "rt"))
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	read := func(want string) string {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v\nsockd's log:\n%s", want, err, log.String())
		}
		msg := string(buf[:n])
		if !strings.Contains("\n"+msg+"\n", "\n"+want+"\n") {
			t.Fatalf("notification %q; want %s in it", msg, want)
		}
		return msg
	}
	msg := read("READY=1")
	if want := fmt.Sprintf("MAINPID=%d", cmd.Process.Pid); !strings.Contains(msg, want) {
		t.Errorf("READY notification %q lacks %s", msg, want)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	read("STOPPING=1")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("sockd exited with %v after SIGTERM; want 0", err)
		}
		exited <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("sockd did not exit after SIGTERM")
	}
}
