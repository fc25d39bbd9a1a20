// Package tests holds sockd's end-to-end tests: TestMain builds the real
// sockd binary and the probe service (tests/probe), and each test writes
// units into a temporary directory, runs sockd on them as a child process
// and talks to the services over real sockets.
package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/control"
)

var (
	sockdBin string // the sockd binary under test
	probeBin string // tests/probe
	repoRoot string // the module root
	goBin    string // the go command that built them
)

// raceEnabled is set by race_test.go when the tests run with -race; sockd
// is then built with the race detector too.
var raceEnabled bool

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fmt.Fprintln(os.Stderr, "tests: not run from the tests directory of the module:", err)
		return 1
	}
	repoRoot = root
	goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			fmt.Fprintln(os.Stderr, "tests: no go command:", err)
			return 1
		}
	}
	tmp, err := os.MkdirTemp("", "sockd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// sockd gets the race detector when the tests have it, so that a data
	// race in the daemon fails the test that triggered it (exit 66 and a
	// "DATA RACE" report in its log).
	builds := [][]string{{"build", "-o", tmp + "/", "./cmd/sockd"}, {"build", "-o", tmp + "/", "./tests/probe"}}
	if raceEnabled {
		builds[0] = slices.Insert(builds[0], 1, "-race")
	}
	for _, args := range builds {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "tests: go %s: %v\n%s", strings.Join(args, " "), err, out)
			return 1
		}
	}
	sockdBin, probeBin = filepath.Join(tmp, "sockd"), filepath.Join(tmp, "probe")
	return m.Run()
}

// ---------------------------------------------------------------------
// Test environment: unit, runtime and report directories.

type env struct {
	t          *testing.T
	dir        string
	unitDir    string
	runtimeDir string
	reportDir  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, unitDir: filepath.Join(dir, "units"), runtimeDir: filepath.Join(dir, "run"), reportDir: filepath.Join(dir, "reports")}
	for _, d := range []string{e.unitDir, e.reportDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// path returns a path in the test's directory.
func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

// writeFile writes a file into the unit directory.
func (e *env) writeFile(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.unitDir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// unit writes NAME.socket with the [Socket] lines and NAME.service with
// the [Service] lines.
func (e *env) unit(name string, socket, service []string) {
	e.t.Helper()
	e.writeFile(name+".socket", "[Socket]\n"+strings.Join(socket, "\n")+"\n")
	e.writeFile(name+".service", "[Service]\n"+strings.Join(service, "\n")+"\n")
}

// probe returns an ExecStart= line running the probe with args.
func (e *env) probe(args ...string) string {
	return "ExecStart=" + strings.Join(append([]string{probeBin, "-report", e.reportDir}, args...), " ")
}

// ---------------------------------------------------------------------
// Running sockd.

type sockd struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  *logBuf
	done chan struct{} // closed when the process was waited for
	err  error         // from Wait, valid after done
	// cleanupExit is the exit status the cleanup expects after SIGTERM;
	// -1 means sockd was already stopped by the test.
	cleanupExit int
}

// start runs sockd on the environment's units and waits for "sockd ready".
func (e *env) start() *sockd {
	e.t.Helper()
	// Debug level: the tests also read the per-unit "listening" records.
	s := e.startCmd(sockdBin, "--units", e.unitDir, "--runtime-dir", e.runtimeDir, "--log-level", "debug")
	s.waitLog(15*time.Second, msgIs("sockd ready"))
	return s
}

// startCmd starts argv (sockd, or a wrapper that execs it) without
// waiting for readiness.
func (e *env) startCmd(argv ...string) *sockd {
	e.t.Helper()
	t := e.t
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "GORACE=exitcode=66 atexit_sleep_ms=0", leakMarker+"=1")
	// Its own process group, and killed with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// stderr is a pipe of our own rather than StderrPipe, so that Wait
	// never waits for the reader, nor the reader for Wait.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw // sockd logs to stderr; stdout goes to /dev/null
	s := &sockd{t: t, cmd: cmd, log: newLogBuf(), done: make(chan struct{})}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		t.Fatal(err)
	}
	go s.log.read(pr)
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.cleanup(e) })
	return s
}

func (s *sockd) pid() int { return s.cmd.Process.Pid }

// cleanup stops sockd if the test did not, checks that it exited 0, kills
// whatever is left of its process group and of the test's services, and
// dumps the log if the test failed.
func (s *sockd) cleanup(e *env) {
	t := s.t
	select {
	case <-s.done:
	default:
		code := s.stop(15 * time.Second)
		if code != s.cleanupExit && s.cleanupExit >= 0 {
			t.Errorf("sockd exited with %d after SIGTERM, want %d", code, s.cleanupExit)
		}
	}
	_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
	for _, pid := range serviceProcs(e.reportDir) {
		t.Errorf("service process %d still running after sockd exited; killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if strings.Contains(s.log.String(), "DATA RACE") {
		t.Errorf("sockd reported a data race")
	}
	if t.Failed() {
		t.Logf("sockd log:\n%s", s.log.String())
	}
}

// stop sends SIGTERM and waits (bounded) for sockd to exit. It returns
// the exit status, or -1 if sockd had to be killed.
func (s *sockd) stop(timeout time.Duration) int {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	return s.wait(timeout)
}

// wait waits for sockd to exit; past timeout it kills the process group,
// fails the test and returns -1.
func (s *sockd) wait(timeout time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.t.Errorf("sockd did not exit within %v; killing it", timeout)
		_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
		<-s.done
		return -1
	}
	// The rest of the log: the pipe ends when sockd and whatever it left
	// behind have closed it.
	select {
	case <-s.log.eof:
	case <-time.After(2 * time.Second):
		s.t.Errorf("sockd's stderr is still open 2s after it exited")
	}
	var ee *exec.ExitError
	switch {
	case s.err == nil:
		return 0
	case errors.As(s.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	s.t.Errorf("waiting for sockd: %v", s.err)
	return -1
}

// waitLog waits until a log record matches, and returns it; it fails the
// test after timeout or when sockd exits first.
func (s *sockd) waitLog(timeout time.Duration, match func(record) bool) record {
	s.t.Helper()
	r, err := s.log.wait(timeout, match)
	if err != nil {
		s.t.Fatalf("waiting for a log record: %v\nsockd log:\n%s", err, s.log.String())
	}
	return r
}

// records returns the log records that match.
func (s *sockd) records(match func(record) bool) []record {
	var out []record
	for _, r := range s.log.snapshot() {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// ---------------------------------------------------------------------
// sockd's log: slog text records, one per line.

// record is one parsed log line: its key=value pairs and the raw line.
type record struct {
	kv  map[string]string
	raw string
}

func (r record) get(k string) string { return r.kv[k] }

// recordTime returns the time of a record.
func recordTime(t *testing.T, r record) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, r.get("time"))
	if err != nil {
		t.Fatalf("record %q: %v", r.raw, err)
	}
	return tm
}

func msgIs(msg string) func(record) bool {
	return func(r record) bool { return r.kv["msg"] == msg }
}

// match builds a matcher: every key has the value given; a value
// starting with "~" only has to be contained.
func match(kv ...string) func(record) bool {
	return func(r record) bool {
		for i := 0; i+1 < len(kv); i += 2 {
			got, ok := r.kv[kv[i]]
			want := kv[i+1]
			if !ok {
				return false
			}
			if strings.HasPrefix(want, "~") {
				if !strings.Contains(got, want[1:]) {
					return false
				}
			} else if got != want {
				return false
			}
		}
		return true
	}
}

// parseRecord parses a slog TextHandler line: key=value pairs separated
// by spaces, values quoted with Go syntax when needed.
func parseRecord(line string) record {
	r := record{kv: map[string]string{}, raw: line}
	s := line
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				r.kv[key] = s
				break
			}
			q := s[:end+1]
			s = s[end+1:]
			if u, err := strconv.Unquote(q); err == nil {
				val = u
			} else {
				val = q
			}
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				sp = len(s)
			}
			val, s = s[:sp], s[sp:]
		}
		r.kv[key] = val
	}
	return r
}

type logBuf struct {
	mu      sync.Mutex
	recs    []record
	changed chan struct{} // closed and replaced on every new line
	eof     chan struct{}
}

func newLogBuf() *logBuf {
	return &logBuf{changed: make(chan struct{}), eof: make(chan struct{})}
}

func (l *logBuf) read(r io.ReadCloser) {
	defer close(l.eof)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		rec := parseRecord(sc.Text())
		l.mu.Lock()
		l.recs = append(l.recs, rec)
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

func (l *logBuf) snapshot() []record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs)
}

func (l *logBuf) String() string {
	var b strings.Builder
	for _, r := range l.snapshot() {
		b.WriteString(r.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

func (l *logBuf) wait(timeout time.Duration, match func(record) bool) (record, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		l.mu.Lock()
		recs, changed := l.recs[seen:], l.changed
		l.mu.Unlock()
		for _, r := range recs {
			if match(r) {
				return r, nil
			}
		}
		seen += len(recs)
		select {
		case <-changed:
		case <-l.eof:
			// Drain what arrived with the end of file.
			for _, r := range l.snapshot()[seen:] {
				if match(r) {
					return r, nil
				}
			}
			return record{}, errors.New("sockd exited")
		case <-deadline.C:
			return record{}, fmt.Errorf("no match within %v", timeout)
		}
	}
}

// status asks sockd's control API for the state of a unit ("web.socket"
// or "web.service").
func (e *env) status(name string) control.Unit {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := control.NewClient(filepath.Join(e.runtimeDir, control.SocketName)).Unit(ctx, name)
	if err != nil {
		e.t.Fatalf("status of %s: %v", name, err)
	}
	return u
}

// ---------------------------------------------------------------------
// The probe's reports.

// Report mirrors tests/probe's Report.
type Report struct {
	Pid            int      `json:"pid"`
	Argv           []string `json:"argv"`
	Started        int64    `json:"started_unix_nano"`
	ListenPID      string   `json:"listen_pid"`
	ListenFDs      string   `json:"listen_fds"`
	ListenFDNames  string   `json:"listen_fdnames"`
	ListenPIDFDID  string   `json:"listen_pidfdid"`
	PidfdID        uint64   `json:"pidfd_id"`
	NotifySocket   string   `json:"notify_socket"`
	NotifySet      bool     `json:"notify_socket_set"`
	Env            []string `json:"env"`
	FDs            []FD     `json:"fds"`
	ListingFD      int      `json:"listing_fd"`
	FDListingError string   `json:"fd_listing_error"`
	Passed         []Info   `json:"passed"`
}

// FD is one entry of the probe's /proc/self/fd.
type FD struct {
	FD     int    `json:"fd"`
	Target string `json:"target"`
}

// Info describes one fd passed to the probe.
type Info struct {
	FD           int               `json:"fd"`
	Target       string            `json:"target"`
	FileType     string            `json:"file_type"`
	Nonblock     bool              `json:"nonblock"`
	Perm         uint32            `json:"perm"`
	UID          uint32            `json:"uid"`
	GID          uint32            `json:"gid"`
	Type         int               `json:"so_type"`
	Domain       int               `json:"so_domain"`
	Protocol     int               `json:"so_protocol"`
	AcceptConn   int               `json:"so_acceptconn"`
	Sockname     string            `json:"sockname"`
	BindToDevice string            `json:"so_bindtodevice"`
	Opts         map[string]int    `json:"opts"`
	OptErrors    map[string]string `json:"opt_errors"`
}

// reports returns the reports written so far, oldest first.
func (e *env) reports() []Report {
	e.t.Helper()
	paths, _ := filepath.Glob(filepath.Join(e.reportDir, "report-*.json"))
	var out []Report
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			e.t.Fatal(err)
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			e.t.Fatalf("%s: %v", p, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started < out[j].Started })
	return out
}

// waitReports waits until at least n reports exist and returns them.
func (e *env) waitReports(n int, timeout time.Duration) []Report {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rs := e.reports()
		if len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d probe report(s) after %v, want %d", len(rs), timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serviceProcs returns the live processes (zombies excluded) whose
// command line mentions marker, such as the test's report directory.
func serviceProcs(marker string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if err != nil || len(b) == 0 { // gone, or a zombie
			continue
		}
		if strings.Contains(string(b), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// ---------------------------------------------------------------------
// Ports, names and clients.

var ports struct {
	sync.Mutex
	used map[int]bool
}

// freePort returns a port that is free for TCP and UDP on 127.0.0.1, ::1
// and the wildcard addresses, below the ephemeral range so that no
// outgoing connection takes it before sockd binds it, and never handed
// out twice in one test binary.
func freePort(t *testing.T) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2000 {
				low = n
			}
		}
	}
	ports.Lock()
	defer ports.Unlock()
	if ports.used == nil {
		ports.used = map[int]bool{}
	}
	for range 1000 {
		p := 1024 + rand.IntN(low-1024)
		if ports.used[p] || !portFree(p) {
			continue
		}
		ports.used[p] = true
		return p
	}
	t.Fatal("no free port found")
	return 0
}

func portFree(p int) bool {
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for _, nw := range []string{"tcp", "udp"} {
		for _, host := range []string{"", "127.0.0.1", "[::1]"} {
			addr := host + ":" + strconv.Itoa(p)
			var c io.Closer
			var err error
			if nw == "tcp" {
				c, err = net.Listen(nw, addr)
			} else {
				c, err = net.ListenPacket(nw, addr)
			}
			if err != nil {
				return false
			}
			closers = append(closers, c)
			if host == "" { // dual stack: close before binding the specific ones
				c.Close()
				closers = closers[:len(closers)-1]
			}
		}
	}
	return true
}

// randName returns a random suffix for abstract names and paths.
func randName() string { return strconv.FormatUint(rand.Uint64(), 36) }

// ask connects to a stream or seqpacket listener and returns everything
// it answers until EOF, within timeout.
func ask(network, addr string, timeout time.Duration) (string, error) {
	return askSend(network, addr, "", timeout)
}

// askSend is ask that first sends request (needed with DeferAcceptSec=,
// where a connection is not accepted before the client sent something).
func askSend(network, addr, request string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if request != "" {
		if _, err := io.WriteString(c, request); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// askPacket sends msg to a seqpacket listener and reads one packet.
func askSeqpacket(path string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unixpacket", path, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// askDatagram sends msg from a bound socket (so that the service can
// answer) and returns the first datagram that comes back.
func askDatagram(network string, laddr, raddr net.Addr, msg string, timeout time.Duration) (string, error) {
	c, err := net.ListenPacket(network, laddr.String())
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.WriteTo([]byte(msg), raddr); err != nil {
		return "", err
	}
	buf := make([]byte, 65536)
	n, _, err := c.ReadFrom(buf)
	return string(buf[:n]), err
}

// inNetns runs the probe's client mode inside the network namespace of
// pid, through nsenter(1).
func inNetns(t *testing.T, pid int, network, addr string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", pid), "--", probeBin, "client", network, addr)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		err = fmt.Errorf("%v: %s", err, ee.Stderr)
	}
	return string(out), err
}

// errnoOf extracts a syscall errno from err, or 0.
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}
