package activation

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
	"github.com/sockd/sockd/units"
)

// With ACTIVATION_EXCHANGE=DIR:TARGET, the test binary is the attacker of
// TestRemoveOnStopRace: it makes the symlink DIR/l → TARGET, says
// "ready", and swaps DIR/d and DIR/l with renameat2(RENAME_EXCHANGE) as
// fast as it can until its stdin closes.
func init() {
	arg := os.Getenv("ACTIVATION_EXCHANGE")
	if arg == "" {
		return
	}
	dir, target, _ := strings.Cut(arg, ":")
	d, l := filepath.Join(dir, "d"), filepath.Join(dir, "l")
	if err := os.Symlink(target, l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var done atomic.Bool
	go func() { io.Copy(io.Discard, os.Stdin); done.Store(true) }()
	fmt.Println("ready")
	for !done.Load() {
		unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, l, unix.RENAME_EXCHANGE)
	}
	os.Exit(0)
}

// exchanger starts the attacker as nobody on dir (which nobody may
// write) and returns a function that stops it.
func exchanger(t *testing.T, dir, target string) (stop func()) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(filepath.Dir(dir), "attacker.test") // a copy nobody can run
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=none")
	cmd.Env = append(os.Environ(), "ACTIVATION_EXCHANGE="+dir+":"+target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the attacker did not start: %q", line)
	}
	return func() { in.Close(); cmd.Wait() }
}

// TestRemoveOnStopRace is finding 5 of issue 16: with a parent directory
// of the socket writable by nobody, nobody swaps the socket's directory
// with a symlink to a directory of root's while root binds and removes
// the socket (RemoveOnStop=, Symlinks=) over and over. Removal by path
// deleted root's file of the same name (on the 13th stop in the review);
// now every removal goes through a directory opened without following
// symlinks, and root's files survive. The race runs 3 s.
func TestRemoveOnStopRace(t *testing.T) {
	testenv.RequireRoot(t, "runs the attacker as nobody")
	base, err := os.MkdirTemp("", "sockd-race-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	w := filepath.Join(base, "w") // nobody's
	victim := filepath.Join(base, "victim")
	for _, d := range []string{w, filepath.Join(w, "d"), victim} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(w, 65534, 65534)
	// root's files, named as the socket and its symlink
	for _, f := range []string{"s.sock", "link"} {
		if err := os.WriteFile(filepath.Join(victim, f), []byte("root's"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stop := exchanger(t, w, victim)
	defer stop()

	s := newSocket(pathListener(units.Stream, filepath.Join(w, "d", "s.sock")))
	s.RemoveOnStop, s.Symlinks = true, []string{filepath.Join(w, "d", "link")}
	var cycles, failed int
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		ls, err := Bind("race.socket", s)
		if err != nil {
			failed++ // bound through the swapped path: refused, as it should be
			continue
		}
		cycles++
		for _, l := range ls {
			l.Close()
			l.Remove() // may refuse while the path is swapped: that is the point
		}
		if !exists(filepath.Join(victim, "s.sock")) || !exists(filepath.Join(victim, "link")) {
			break
		}
	}
	stop()
	for _, f := range []string{"s.sock", "link"} {
		if !exists(filepath.Join(victim, f)) {
			t.Errorf("root's %s/%s was deleted after %d bind/remove cycles", victim, f, cycles)
		}
	}
	if cycles < 20 {
		t.Errorf("only %d bind/remove cycles (%d binds refused) in 3 s: the race was not run", cycles, failed)
	}
	t.Logf("%d bind/remove cycles, %d binds refused while the path was swapped", cycles, failed)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
