package handoff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/testenv"
	"golang.org/x/sys/unix"
)

const nobody = 65534

// TestMain runs the test binary as a child when HANDOFF_TEST_CHILD says
// so: "client" asks HANDOFF_TEST_SOCK for the listeners of "web" and
// prints the outcome; "server" serves one request there, once it printed
// "listening".
func TestMain(m *testing.M) {
	switch os.Getenv("HANDOFF_TEST_CHILD") {
	case "client":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		files, err := Listeners(ctx, os.Getenv("HANDOFF_TEST_SOCK"), "web")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = f.Name
		}
		fmt.Printf("ok %d %s\n", len(files), strings.Join(names, ","))
		os.Exit(0)
	case "server":
		os.Exit(childServe(os.Getenv("HANDOFF_TEST_SOCK")))
	}
	os.Exit(m.Run())
}

func childServe(path string) int {
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer ln.Close()
	os.Chmod(path, 0o666)
	fmt.Println("listening")
	c, err := ln.AcceptUnix()
	if err != nil {
		return 1
	}
	defer c.Close()
	s := &Server{
		PeerAllowed: func(unix.Ucred) bool { return true },
		Answer:      func(unix.Ucred, Request) ([]File, error) { return nil, nil },
	}
	s.ServeConn(c)
	return 0
}

// asNobody returns the command that runs a copy of the test binary, put
// next to sock where nobody can read it, as nobody in the given mode; it
// skips the test when not root (and fails it when CI=true: testenv).
func asNobody(t *testing.T, mode, sock string) *exec.Cmd {
	t.Helper()
	testenv.RequireRoot(t, "runs a child as nobody")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(filepath.Dir(sock), "handoff.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "HANDOFF_TEST_CHILD="+mode, "HANDOFF_TEST_SOCK="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd
}

// openDir returns a fresh directory that nobody may use (mode 0777),
// removed when the test ends.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "handoff-peer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// TestPeerOtherUser serves a client running as nobody: refused by
// default (and the refusal names its uid), answered when PeerAllowed
// widens the check.
func TestPeerOtherUser(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed func(unix.Ucred) bool
		want    string
	}{
		{"default", nil, "error: handoff: listeners of web from"},
		{"widened", func(c unix.Ucred) bool { return c.Uid == nobody }, "ok 1 http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := openDir(t)
			sock := filepath.Join(dir, "handoff.sock")
			cmd := asNobody(t, "client", sock)
			files := sources(t, 1, "fp")
			files[0].Unit, files[0].Name = "web", "http"
			ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			os.Chmod(sock, 0o666)
			served := async(func() error {
				c, err := ln.AcceptUnix()
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				return (&Server{PeerAllowed: tc.allowed, Answer: dupAnswer(files)}).ServeConn(c)
			})
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.HasPrefix(string(out), tc.want) {
				t.Errorf("child printed %q; want %q...", out, tc.want)
			}
			err = <-served
			if tc.allowed == nil {
				var re *RefusedError
				if !errors.As(err, &re) || re.Peer.Uid != nobody || int(re.Peer.Pid) != cmd.Process.Pid {
					t.Errorf("ServeConn: %v; want a refusal of uid %d pid %d", err, nobody, cmd.Process.Pid)
				}
				if !strings.Contains(string(out), "permission denied") {
					t.Errorf("child printed %q; want permission denied", out)
				}
			} else if err != nil {
				t.Errorf("ServeConn: %v", err)
			}
		})
	}
}

// TestUntrustedServer runs a server as nobody: the client, root, refuses
// to believe it.
func TestUntrustedServer(t *testing.T) {
	dir := openDir(t)
	sock := filepath.Join(dir, "handoff.sock")
	cmd := asNobody(t, "server", sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "listening\n" {
		t.Fatalf("the server child said %q, %v; want listening", line, err)
	}
	_, err = Listeners(context.Background(), sock, "web")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the server runs as uid %d", nobody)) {
		t.Errorf("Listeners from a server run by nobody: %v; want it not trusted", err)
	}
}
