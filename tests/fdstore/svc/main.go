// Command svc is the service of the fd store tests (tests/fdstore). It
// appends one line per start to the report file named by its argument:
// "pid=P listen_pid=P fds=N names=A:B fdstore=MAX state=S".
//
// Started without stored fds (LISTEN_FDS=1), it sends READY=1, accepts
// one connection from fd 3, stores it (FDSTORE=1 FDNAME=conn, twice
// the same open file so that sockd must drop the duplicate) and a memfd
// holding "state-from-gen-1" (FDSTORE=1 FDNAME=state), writes "stored\n"
// to the client and kills itself with SIGKILL — or, with a second
// argument "hold", waits for the test to kill it.
//
// With a second argument "poll", it instead accepts two connections,
// stores the first as "polled" (FDPOLL left on) and the second as
// "unpolled" (FDPOLL=0), writes "stored\n" to each and waits.
//
// Started with stored fds, it reads the memfd back into the report,
// writes "hello from gen 2\n" to the stored connection, sends
// FDSTOREREMOVE=1 FDNAME=conn and READY=1, and waits to be stopped.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	mode := ""
	if len(os.Args) > 2 {
		mode = os.Args[2]
	}
	var err error
	if mode == "poll" {
		err = pollStart()
	} else {
		err = run(os.Args[1], mode == "hold")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "svc:", err)
		os.Exit(1)
	}
}

func run(report string, hold bool) error {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	if len(names) != n {
		return fmt.Errorf("LISTEN_FDS=%d but LISTEN_FDNAMES=%q", n, os.Getenv("LISTEN_FDNAMES"))
	}
	state := ""
	if i := index(names, "state"); i >= 0 {
		buf := make([]byte, 64)
		m, err := unix.Pread(3+i, buf, 0)
		if err != nil {
			return fmt.Errorf("reading the state memfd: %w", err)
		}
		state = string(buf[:m])
	}
	line := fmt.Sprintf("pid=%d listen_pid=%s fds=%d names=%s fdstore=%s state=%s\n",
		os.Getpid(), os.Getenv("LISTEN_PID"), n, strings.Join(names, ":"), os.Getenv("FDSTORE"), state)
	if err := appendFile(report, line); err != nil {
		return err
	}
	if i := index(names, "conn"); i >= 0 {
		return secondStart(3 + i)
	}
	return firstStart(hold)
}

func firstStart(hold bool) error {
	if err := notify("READY=1"); err != nil {
		return err
	}
	conn, _, err := unix.Accept4(3, unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	dup, err := unix.FcntlInt(uintptr(conn), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("dup: %w", err)
	}
	mem, err := unix.MemfdCreate("state", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	if _, err := unix.Write(mem, []byte("state-from-gen-1")); err != nil {
		return fmt.Errorf("writing the memfd: %w", err)
	}
	if err := notify("FDSTORE=1\nFDNAME=conn", conn, dup); err != nil {
		return err
	}
	if err := notify("FDSTORE=1\nFDNAME=state", mem); err != nil {
		return err
	}
	if _, err := unix.Write(conn, []byte("stored\n")); err != nil {
		return fmt.Errorf("writing to the client: %w", err)
	}
	for hold {
		time.Sleep(time.Hour) // until the test kills it
	}
	return unix.Kill(os.Getpid(), unix.SIGKILL)
}

func secondStart(conn int) error {
	if _, err := unix.Write(conn, []byte("hello from gen 2\n")); err != nil {
		return fmt.Errorf("writing to the stored connection: %w", err)
	}
	if err := notify("FDSTOREREMOVE=1\nFDNAME=conn"); err != nil {
		return err
	}
	if err := notify("READY=1"); err != nil {
		return err
	}
	for {
		time.Sleep(time.Hour) // until SIGTERM
	}
}

// notify sends msg with fds (SCM_RIGHTS) to $NOTIFY_SOCKET.
func notify(msg string, fds ...int) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return fmt.Errorf("NOTIFY_SOCKET is not set")
	}
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(s)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(s, []byte(msg), oob, &unix.SockaddrUnix{Name: path}, 0); err != nil {
		return fmt.Errorf("sendmsg %q to %s: %w", msg, path, err)
	}
	return nil
}

func index(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func appendFile(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(line)
	return err
}

// pollStart is the "poll" mode (see the package doc).
func pollStart() error {
	if err := notify("READY=1"); err != nil {
		return err
	}
	for _, msg := range []string{"FDSTORE=1\nFDNAME=polled", "FDSTORE=1\nFDNAME=unpolled\nFDPOLL=0"} {
		conn, _, err := unix.Accept4(3, unix.SOCK_CLOEXEC)
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		if err := notify(msg, conn); err != nil {
			return err
		}
		if _, err := unix.Write(conn, []byte("stored\n")); err != nil {
			return fmt.Errorf("writing to the client: %w", err)
		}
		unix.Close(conn)
	}
	for {
		time.Sleep(time.Hour) // until SIGTERM
	}
}
