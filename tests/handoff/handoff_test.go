package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/handoff"
	"github.com/sockd/sockd/internal/control"
	"github.com/sockd/sockd/internal/testenv"
)

// The units: web's service never accepts, so every connection to web.sock
// is accepted by the test through the handed-off listener; quiet is never
// activated.
var testUnits = map[string]string{
	"web.socket": `[Socket]
ListenStream=$WORK/web.sock
ListenDatagram=$WORK/web.dgram
FileDescriptorName=http
`,
	"web.service": `[Service]
ExecStart=/bin/sleep 1000
`,
	"quiet.socket": `[Socket]
ListenStream=$WORK/quiet.sock
`,
	"quiet.service": `[Service]
ExecStart=/bin/sleep 1000
`,
}

// TestListenersFromSockd takes web's listeners from a running sockd and
// checks that they are sockd's own sockets: same inodes as in
// /proc/<sockd>/fd, and a connection to web.sock is accepted here.
func TestListenersFromSockd(t *testing.T) {
	e := startSockd(t, testUnits)
	files, err := e.listeners("web.socket")
	if err != nil {
		t.Fatalf("%v\nsockd log:\n%s", err, e.LogText())
	}
	defer handoff.CloseAll(files)
	want := []handoff.File{
		{Unit: "web", Name: "http", Kind: handoff.KindStream, Addr: e.work + "/web.sock"},
		{Unit: "web", Name: "http", Kind: handoff.KindDatagram, Addr: e.work + "/web.dgram"},
	}
	if len(files) != len(want) {
		t.Fatalf("got %d files; want %d: %+v", len(files), len(want), files)
	}
	held := e.sockdSockets()
	for i, f := range files {
		w := want[i]
		if f.Unit != w.Unit || f.Name != w.Name || f.Kind != w.Kind || f.Addr != w.Addr || !strings.Contains(f.Fingerprint, w.Addr) {
			t.Errorf("file %d: got %+v; want %+v with a fingerprint naming the address", i, f, w)
		}
		var st unix.Stat_t
		if err := unix.Fstat(f.Fd, &st); err != nil {
			t.Fatal(err)
		}
		if held[st.Ino] == 0 {
			t.Errorf("file %d: socket inode %d is not among sockd's open sockets %v", i, st.Ino, held)
		}
		if flags, err := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("file %d: fd %d flags %#x, %v; want FD_CLOEXEC", i, f.Fd, flags, err)
		}
	}
	acceptHere(t, e, &files[0])
	readDatagramHere(t, e, files[1])
	handoff.CloseAll(files)
	// sockd still listens on its own copy.
	c, err := net.Dial("unix", e.work+"/web.sock")
	if err != nil {
		t.Fatalf("web.sock after the test closed its copy: %v", err)
	}
	c.Close()
}

// acceptHere connects to web.sock and accepts the connection on f. The
// connection is queued before Accept, so whichever blocking mode sockd
// left on the shared socket (it makes it blocking when it starts web's
// service), Accept returns it.
func acceptHere(t *testing.T, e *env, f *handoff.File) {
	t.Helper()
	c, err := net.Dial("unix", e.work+"/web.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := f.Listener()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Errorf("the accepted connection read %q, %v; want ping", buf, err)
	}
}

// readDatagramHere sends a datagram to web.dgram and reads it from f.
func readDatagramHere(t *testing.T, e *env, f handoff.File) {
	t.Helper()
	c, err := net.Dial("unixgram", e.work+"/web.dgram")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("dgram")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _, err := unix.Recvfrom(f.Fd, buf, unix.MSG_DONTWAIT) // queued by now
	if err != nil || string(buf[:n]) != "dgram" {
		t.Errorf("read %q, %v from the handed-off datagram socket; want dgram", buf[:n], err)
	}
}

// TestHandoffErrors asks for units sockd cannot hand off.
func TestHandoffErrors(t *testing.T) {
	e := startSockd(t, testUnits)
	var re *handoff.RemoteError
	if _, err := e.listeners("nope"); !errors.As(err, &re) || !strings.Contains(re.Message, `unit "nope": not loaded`) {
		t.Errorf("listeners of nope: %v; want not loaded", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := control.NewClient(filepath.Join(e.rt, control.SocketName)).Do(ctx, "quiet.socket", control.Stop); err != nil {
		t.Fatal(err)
	}
	if _, err := e.listeners("quiet"); !errors.As(err, &re) || !strings.Contains(re.Message, "unit quiet.socket: stopped") {
		t.Errorf("listeners of a stopped socket: %v; want stopped", err)
	}
	if files, err := e.listeners("web"); err != nil || len(files) != 2 {
		t.Errorf("listeners of web after the errors: %d files, %v; want 2", len(files), err)
	} else {
		handoff.CloseAll(files)
	}
}

// TestHandoffLeavesNoFDs hands quiet's listener off many times and checks
// that sockd closes every dup it sent.
func TestHandoffLeavesNoFDs(t *testing.T) {
	e := startSockd(t, testUnits)
	count := func() int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := count()
	for range 50 {
		files, err := e.listeners("quiet")
		if err != nil {
			t.Fatal(err)
		}
		handoff.CloseAll(files)
	}
	// sockd closes the last connection and its dup just after the
	// client got them, and a connection of startSockd's to the control
	// socket may close in the meantime: wait for the count to settle at
	// or below where it was. A leak is one fd more per handoff.
	after := count()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = count() {
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		t.Errorf("sockd has %d fds after 50 handoffs; want at most %d, as before", after, before)
	}
}

// TestHandoffSocketNode checks the socket's mode and owner, that no
// temporary directory is left behind, and that sockd removes the socket
// when it stops.
func TestHandoffSocketNode(t *testing.T) {
	e := startSockd(t, testUnits)
	fi, err := os.Lstat(e.handoffSock())
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 || int(st.Uid) != os.Getuid() {
		t.Errorf("%s: mode %v uid %d; want a socket of mode 0600 owned by uid %d", e.handoffSock(), fi.Mode(), st.Uid, os.Getuid())
	}
	ents, _ := os.ReadDir(e.rt)
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".handoff-") {
			t.Errorf("temporary directory %s left in the runtime directory", ent.Name())
		}
	}
	e.Stop()
	if _, err := os.Lstat(e.handoffSock()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after sockd stopped: %v; want it removed", e.handoffSock(), err)
	}
}

// TestRefusedPeerIsLogged loosens the socket's mode, as an administrator
// might, and asks as nobody: sockd still refuses by SO_PEERCRED and logs
// the peer's uid and pid.
func TestRefusedPeerIsLogged(t *testing.T) {
	testenv.RequireRoot(t, "runs a client as nobody")
	e := startSockd(t, testUnits)
	// Open the way to the socket (the runtime directory is private and
	// the socket 0600) so that only the SO_PEERCRED check can refuse.
	for _, dir := range []string{filepath.Dir(e.work), e.work, e.rt} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.handoffSock(), 0o666); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(e.work, "client.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "HANDOFF_E2E_CHILD=client", "HANDOFF_E2E_SOCK="+e.handoffSock())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "permission denied") {
		t.Errorf("the client as nobody printed %q; want permission denied", out)
	}
	want := fmt.Sprintf("uid=65534 gid=65534 pid=%d", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(e.LogText(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sockd's log lacks the refusal (%s):\n%s", want, e.LogText())
		}
	}
}
