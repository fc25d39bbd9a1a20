// Command probe is the service that sockd's end-to-end tests run: it
// reports, from its own side, what it was started with (pid, LISTEN_*,
// NOTIFY_SOCKET, environment, open fds and every readable socket option of
// each passed fd) as a JSON file, and then serves every passed fd by its
// type, in a way chosen by flags.
//
// Service mode:
//
//	probe -report DIR [-answer TEXT] [-idle D] [-conns N] [-crash]
//	      [-notify-delay D] [-never-ready] [-fifo-out PATH] [-ignore-term]
//
// The report goes to DIR/report-PID.json (written to a temporary name and
// renamed, so a reader never sees it half written). Then, unless -crash
// (exit 1 at once) or -never-ready (serve nothing, wait to be killed):
// with -notify-delay it sleeps that long and sends READY=1 with go-systemd's
// daemon.SdNotify before serving; stream and seqpacket listeners answer
// each connection with one line "TEXT PID FDNAME\n" and close it (after
// reading what the client sent until it closes); datagram
// sockets answer each datagram with "TEXT PID: PAYLOAD"; a FIFO's lines are
// answered in -fifo-out (replaced atomically, "TEXT PID: LINE\n"). -idle
// exits 0 after that long without traffic, -conns after N answers. SIGTERM
// is logged to stderr, recorded as DIR/sigterm-PID and exits 0 (or, with
// -ignore-term, is otherwise ignored).
//
// Client mode, to reach a listener inside a network namespace through
// nsenter(1):
//
//	probe client NETWORK ADDRESS
//
// dials, reads everything until EOF (5s at most) and prints it.
//
// The probe is built with containermaxprocs=0: otherwise its Go runtime
// (1.25+) keeps the cgroup CPU limit files open for the whole run, and
// those fds would be indistinguishable from ones leaked by sockd. With it,
// the runtime has no fd of its own open when main starts.
//
//go:debug containermaxprocs=0
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Report is what the probe saw. tests/report_test.go decodes it.
type Report struct {
	Pid            int      `json:"pid"`
	Argv           []string `json:"argv"`
	Started        int64    `json:"started_unix_nano"`
	ListenPID      string   `json:"listen_pid"`
	ListenFDs      string   `json:"listen_fds"`
	ListenFDNames  string   `json:"listen_fdnames"`
	ListenPIDFDID  string   `json:"listen_pidfdid"`
	PidfdID        uint64   `json:"pidfd_id"` // the pidfs inode of a pidfd for itself, 0 if none
	NotifySocket   string   `json:"notify_socket"`
	NotifySet      bool     `json:"notify_socket_set"`
	Env            []string `json:"env"`
	FDs            []FD     `json:"fds"`        // /proc/self/fd as the first thing main did
	ListingFD      int      `json:"listing_fd"` // the fd main used to read /proc/self/fd
	FDListingError string   `json:"fd_listing_error,omitempty"`
	Passed         []Info   `json:"passed"`  // fds 3 … 3+LISTEN_FDS-1
	Process        *Process `json:"process"` // process.go
	// Sandbox is what -sandbox saw (tests/probe/sandbox.go).
	Sandbox *SandboxReport `json:"sandbox,omitempty"`
}

// FD is one entry of /proc/self/fd.
type FD struct {
	FD     int    `json:"fd"`
	Target string `json:"target"`
}

// Info describes one passed fd.
type Info struct {
	FD       int    `json:"fd"`
	Target   string `json:"target"`
	FileType string `json:"file_type"` // "socket", "fifo", …
	Nonblock bool   `json:"nonblock"`
	// FIFOs (fstat).
	Perm uint32 `json:"perm,omitempty"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	// Sockets.
	Type         int               `json:"so_type,omitempty"`
	Domain       int               `json:"so_domain,omitempty"`
	Protocol     int               `json:"so_protocol,omitempty"`
	AcceptConn   int               `json:"so_acceptconn"`
	Sockname     string            `json:"sockname,omitempty"`
	BindToDevice string            `json:"so_bindtodevice"`
	Opts         map[string]int    `json:"opts,omitempty"`
	OptErrors    map[string]string `json:"opt_errors,omitempty"`
	// NetlinkType is the nlmsg_type of the message waiting on a netlink
	// socket (peeked, left in place), 0 if none.
	NetlinkType int `json:"netlink_type,omitempty"`
}

type sockopt struct {
	name       string
	level, opt int
	applies    func(domain, typ int) bool
}

func always(int, int) bool { return true }
func ip(d, _ int) bool     { return d == unix.AF_INET || d == unix.AF_INET6 }
func ip6(d, _ int) bool    { return d == unix.AF_INET6 }
func tcp(d, t int) bool    { return ip(d, t) && t == unix.SOCK_STREAM }

// sockopts are the integer options the probe reads.
var sockopts = []sockopt{
	{"SO_REUSEADDR", unix.SOL_SOCKET, unix.SO_REUSEADDR, always},
	{"SO_REUSEPORT", unix.SOL_SOCKET, unix.SO_REUSEPORT, always},
	{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, always},
	{"SO_RCVBUF", unix.SOL_SOCKET, unix.SO_RCVBUF, always},
	{"SO_SNDBUF", unix.SOL_SOCKET, unix.SO_SNDBUF, always},
	{"SO_PRIORITY", unix.SOL_SOCKET, unix.SO_PRIORITY, always},
	{"SO_MARK", unix.SOL_SOCKET, unix.SO_MARK, always},
	{"SO_PASSCRED", unix.SOL_SOCKET, unix.SO_PASSCRED, always},
	{"SO_BROADCAST", unix.SOL_SOCKET, unix.SO_BROADCAST, always},
	// IPPROTO_IP options also answer on AF_INET6 sockets (ipv6_getsockopt
	// passes them to ip_getsockopt).
	{"IP_FREEBIND", unix.IPPROTO_IP, unix.IP_FREEBIND, ip},
	{"IP_TRANSPARENT", unix.IPPROTO_IP, unix.IP_TRANSPARENT, ip},
	{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, ip},
	{"IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, ip},
	{"IP_PKTINFO", unix.IPPROTO_IP, unix.IP_PKTINFO, ip},
	{"IPV6_V6ONLY", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, ip6},
	{"IPV6_FREEBIND", unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, ip6},
	{"IPV6_TRANSPARENT", unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT, ip6},
	{"IPV6_TCLASS", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, ip6},
	{"IPV6_UNICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ip6},
	{"IPV6_RECVPKTINFO", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, ip6},
	{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, tcp},
	{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, tcp},
	{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, tcp},
	{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, tcp},
	{"TCP_DEFER_ACCEPT", unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, tcp},
}

// listFDs reads /proc/self/fd with raw system calls, so that nothing but
// the directory's own fd is opened for it.
func listFDs() (fds []FD, listing int, err error) {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1, err
	}
	defer unix.Close(dfd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(dfd, buf)
		if err != nil {
			return nil, dfd, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + name)
		fds = append(fds, FD{FD: fd, Target: target})
	}
	return fds, dfd, nil
}

// pidfdID returns the inode number of a pidfd for this process when
// pidfds live on pidfs (Linux 6.9+): what LISTEN_PIDFDID should hold.
func pidfdID() uint64 {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	var st unix.Stat_t
	if unix.Fstatfs(fd, &fs) != nil || fs.Type != unix.PID_FS_MAGIC || unix.Fstat(fd, &st) != nil {
		return 0
	}
	return st.Ino
}

// peekNetlink returns the type of the first message queued on a netlink
// socket, without taking it, or 0.
func peekNetlink(fd int) int {
	buf := make([]byte, unix.NLMSG_HDRLEN)
	n, _, err := unix.Recvfrom(fd, buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil || n < unix.NLMSG_HDRLEN {
		return 0
	}
	return int(binary.NativeEndian.Uint16(buf[4:6]))
}

func sockname(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "error: " + err.Error()
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		return a.Name
	}
	return fmt.Sprintf("%T", sa)
}

func inspect(fd int) Info {
	in := Info{FD: fd, Opts: map[string]int{}, OptErrors: map[string]string{}}
	in.Target, _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		in.Nonblock = fl&unix.O_NONBLOCK != 0
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		in.FileType = "error: " + err.Error()
		return in
	}
	in.Perm, in.UID, in.GID = st.Mode&0o7777, st.Uid, st.Gid
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		in.FileType = "fifo"
		return in
	case unix.S_IFSOCK:
		in.FileType = "socket"
	default:
		in.FileType = fmt.Sprintf("mode %o", st.Mode&unix.S_IFMT)
		return in
	}
	in.Type, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	in.Domain, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	in.Protocol, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	in.AcceptConn, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	in.Sockname = sockname(fd)
	if in.Domain == unix.AF_NETLINK {
		in.NetlinkType = peekNetlink(fd)
	}
	if dev, err := unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err == nil {
		in.BindToDevice = dev
	} else {
		in.OptErrors["SO_BINDTODEVICE"] = err.Error()
	}
	for _, o := range sockopts {
		if !o.applies(in.Domain, in.Type) {
			continue
		}
		v, err := unix.GetsockoptInt(fd, o.level, o.opt)
		if err != nil {
			in.OptErrors[o.name] = err.Error()
			continue
		}
		in.Opts[o.name] = v
	}
	return in
}

var (
	reportDir   = flag.String("report", "", "directory for report-PID.json")
	answer      = flag.String("answer", "probe", "first word of every answer")
	idle        = flag.Duration("idle", 0, "exit 0 after this long without traffic")
	conns       = flag.Int("conns", 0, "exit 0 after this many answers")
	crash       = flag.Bool("crash", false, "exit 1 right after the report")
	notifyDelay = flag.Duration("notify-delay", -1, "send READY=1 after this delay, then serve")
	neverReady  = flag.Bool("never-ready", false, "never notify and never serve")
	fifoOut     = flag.String("fifo-out", "", "file that receives the answers to FIFO lines")
	ignoreTerm  = flag.Bool("ignore-term", false, "log SIGTERM but keep running")
	forks       = flag.Int("fork", 0, "start this many children before the report (Process.Forks)")
	beats       = flag.Int("watchdog-beats", -1, "send WATCHDOG=1 this many times (every half interval), then stop; -1 keeps sending")
)

func main() {
	fds, listing, ferr := listFDs() // first: nothing else is open yet
	if len(os.Args) > 1 && os.Args[1] == "client" {
		os.Exit(client(os.Args[2:]))
	}
	flag.Parse()
	pid := os.Getpid()
	r := Report{
		Pid:     pid,
		Argv:    os.Args,
		Started: time.Now().UnixNano(),
		Env:     os.Environ(),
		FDs:     fds, ListingFD: listing,
	}
	if ferr != nil {
		r.FDListingError = ferr.Error()
	}
	r.ListenPID = os.Getenv("LISTEN_PID")
	r.ListenFDs = os.Getenv("LISTEN_FDS")
	r.ListenFDNames = os.Getenv("LISTEN_FDNAMES")
	r.ListenPIDFDID = os.Getenv("LISTEN_PIDFDID")
	r.PidfdID = pidfdID()
	r.NotifySocket, r.NotifySet = os.LookupEnv("NOTIFY_SOCKET")
	r.Process = readProcess()
	r.Process.WatchdogUsec = watchdogUsec()
	if *forks > 0 {
		r.Process.Forks = tryForks(*forks)
	}
	n, _ := strconv.Atoi(r.ListenFDs)
	if r.ListenPID != strconv.Itoa(pid) {
		n = 0
	}
	for fd := 3; fd < 3+n; fd++ {
		r.Passed = append(r.Passed, inspect(fd))
	}
	if *sandboxProbe {
		r.Sandbox = sandboxReport()
	}
	// SIGTERM is caught before the report appears, so that a test that
	// saw the report can rely on the handler.
	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGTERM)
	go func() {
		for range sigC {
			fmt.Fprintf(os.Stderr, "probe: pid %d got SIGTERM\n", pid)
			writeFile(filepath.Join(*reportDir, fmt.Sprintf("sigterm-%d", pid)), []byte("SIGTERM\n"))
			if !*ignoreTerm {
				os.Exit(0)
			}
		}
	}()
	b, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		fatal(err)
	}
	if err := writeFile(filepath.Join(*reportDir, fmt.Sprintf("report-%d.json", pid)), b); err != nil {
		fatal(err)
	}
	fmt.Fprintf(os.Stderr, "probe: pid %d reported %d fds\n", pid, n)
	if *crash {
		fmt.Fprintf(os.Stderr, "probe: pid %d crashing\n", pid)
		os.Exit(1)
	}
	if *neverReady {
		select {}
	}
	if *notifyDelay >= 0 {
		time.Sleep(*notifyDelay)
		ok, err := daemon.SdNotify(false, daemon.SdNotifyReady)
		fmt.Fprintf(os.Stderr, "probe: pid %d sent READY=1: %v %v\n", pid, ok, err)
	}
	if r.Process.WatchdogUsec > 0 {
		go watchdogBeats(*reportDir, pid, r.Process.WatchdogUsec, *beats)
	}
	names := strings.Split(r.ListenFDNames, ":")
	s := &server{pid: pid, last: time.Now()}
	for i, in := range r.Passed {
		name := ""
		if i < len(names) {
			name = names[i]
		}
		s.serve(in, name)
	}
	s.wait()
}

type server struct {
	pid int
	mu  sync.Mutex
	n   int
	// last is the time of the last traffic; busy counts open connections.
	last time.Time
	busy int
}

// done records one answer and exits after -conns of them.
func (s *server) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.busy--
	s.last = time.Now()
	if *conns > 0 && s.n >= *conns {
		fmt.Fprintf(os.Stderr, "probe: pid %d answered %d, exiting\n", s.pid, s.n)
		os.Exit(0)
	}
}

func (s *server) begin() {
	s.mu.Lock()
	s.busy++
	s.last = time.Now()
	s.mu.Unlock()
}

// wait exits after -idle without traffic, or never.
func (s *server) wait() {
	if *idle <= 0 {
		select {}
	}
	for {
		time.Sleep(*idle / 10)
		s.mu.Lock()
		quiet := s.busy == 0 && time.Since(s.last) >= *idle
		s.mu.Unlock()
		if quiet {
			fmt.Fprintf(os.Stderr, "probe: pid %d idle, exiting\n", s.pid)
			os.Exit(0)
		}
	}
}

func (s *server) serve(in Info, name string) {
	f := os.NewFile(uintptr(in.FD), name)
	switch {
	case in.FileType == "fifo":
		go s.fifo(f)
	case in.AcceptConn == 1:
		l, err := net.FileListener(f)
		if err != nil {
			fatal(err)
		}
		f.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					fatal(err)
				}
				s.begin()
				fmt.Fprintf(c, "%s %d %s\n", *answer, s.pid, name)
				go func() {
					finish(c)
					s.done()
				}()
			}
		}()
	case in.Type == unix.SOCK_DGRAM:
		pc, err := net.FilePacketConn(f)
		if err != nil {
			fatal(err)
		}
		f.Close()
		go func() {
			buf := make([]byte, 65536)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					fatal(err)
				}
				s.begin()
				msg := fmt.Sprintf("%s %d: %s", *answer, s.pid, buf[:n])
				if _, err := pc.WriteTo([]byte(msg), from); err != nil {
					fmt.Fprintf(os.Stderr, "probe: reply to %v: %v\n", from, err)
				}
				s.done()
			}
		}()
	default:
		fmt.Fprintf(os.Stderr, "probe: fd %d (%s): nothing to serve\n", in.FD, in.Target)
	}
}

// finish ends a connection after the answer: it shuts down the sending
// side and reads what the client sent until it closes (2s at most), so
// that unread client data never turns the close into a reset.
func finish(c net.Conn) {
	defer c.Close()
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c)
}

func (s *server) fifo(f *os.File) {
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			fatal(err)
		}
		s.begin()
		if *fifoOut != "" {
			msg := fmt.Sprintf("%s %d: %s", *answer, s.pid, line)
			if err := writeFile(*fifoOut, []byte(msg)); err != nil {
				fatal(err)
			}
		}
		s.done()
	}
}

// writeFile replaces path atomically.
func writeFile(path string, b []byte) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "probe: pid %d: %v\n", os.Getpid(), err)
	os.Exit(3)
}

func client(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: probe client NETWORK ADDRESS")
		return 2
	}
	c, err := net.DialTimeout(args[0], args[1], 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe client:", err)
		return 1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	os.Stdout.Write(b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe client:", err)
		return 1
	}
	return 0
}
