package tests

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKilledServiceLosesNoConnection kills the service with SIGKILL while
// a client connects as fast as it can: no connection may be refused,
// reset or cut short, since the listener stays open in sockd; the
// connections made while no service runs wait in the backlog and are
// answered by the next instance, which the next connection starts.
//
// The client kills the service between two of its connections (after
// reading the previous answer, before the next connect), so that the
// killed process never holds one of them: a connection the service had
// already accepted is lost with it, by any supervisor, and is not what
// this test is about.
func TestKilledServiceLosesNoConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", p)
	e.unit("kill", []string{"ListenStream=" + addr}, []string{e.probe()})
	s := startIdle(t, e)

	const kills = 3
	pids := connectWhileKilling(t, addr, kills)
	s.waitLog(5*time.Second, func(r record) bool {
		return len(s.records(match("msg", "service exited", "unit", "kill.socket", "status", "code=killed, signal=KILL"))) >= kills
	})

	// Once more, with the service certainly gone before the client
	// comes: kill it, wait until sockd has reaped it, then connect.
	last := pids[len(pids)-1]
	exited := len(s.records(match("msg", "service exited", "unit", "kill.socket")))
	if err := syscall.Kill(last, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitLog(5*time.Second, func(record) bool {
		return len(s.records(match("msg", "service exited", "unit", "kill.socket"))) > exited
	})
	if procs := serviceProcs(e.reportDir); len(procs) != 0 {
		t.Fatalf("service processes %v still run after the kill", procs)
	}
	got, err := ask("tcp4", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("connecting while no service runs: %v", err)
	}
	next := checkAnswer(t, got, "kill.socket")
	if next == last {
		t.Errorf("answered by the killed pid %d", last)
	}
	rs := e.waitReports(kills+2, 5*time.Second)
	if len(rs) != kills+2 {
		t.Errorf("%d services started, want %d", len(rs), kills+2)
	}
	if rs[len(rs)-1].Pid != next {
		t.Errorf("the last report is from pid %d, the answer from %d", rs[len(rs)-1].Pid, next)
	}
	if n := len(s.records(match("msg", "starting service", "unit", "kill.socket", "reason", "activation"))); n != kills+2 {
		t.Errorf("%d activations logged, want %d", n, kills+2)
	}
}

// connectWhileKilling connects to addr one connection after another (2,000
// at most, for 3s at most) and SIGKILLs the service that answers, kills
// times along the way. No connection may fail, no killed pid answer
// again, and each kill must bring one new process. It returns the pids
// that answered, in order.
func connectWhileKilling(t *testing.T, addr string, kills int) []int {
	t.Helper()
	const (
		maxConns = 2000
		maxTime  = 3 * time.Second
	)
	var (
		answered, failed int
		failures         []string
		pids             []int // each distinct pid, in order
		killed           []int
	)
	killEvery := maxConns / (kills + 1)
	deadline := time.Now().Add(maxTime)
	// Kill after every killEvery answers, or every maxTime/(kills+1) if
	// the machine is slow, so that all kills happen within maxTime.
	nextKill := time.Now().Add(maxTime / time.Duration(kills+1))
	sinceKill := 0
	for i := 0; i < maxConns && time.Now().Before(deadline); i++ {
		got, err := ask("tcp4", addr, 10*time.Second)
		if err != nil || !answerRE.MatchString(got) {
			failed++
			if len(failures) < 10 {
				failures = append(failures, fmt.Sprintf("connection %d: %q, %v (errno %v)", i, got, err, errnoOf(err)))
			}
			continue
		}
		answered++
		sinceKill++
		pid, _ := strconv.Atoi(answerRE.FindStringSubmatch(got)[1])
		if len(pids) == 0 || pids[len(pids)-1] != pid {
			for _, k := range killed {
				if k == pid {
					t.Fatalf("connection %d answered by pid %d, which was killed", i, pid)
				}
			}
			pids = append(pids, pid)
		}
		if len(killed) < kills && (sinceKill >= killEvery || time.Now().After(nextKill)) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %d: %v", pid, err)
			}
			killed = append(killed, pid)
			sinceKill = 0
			nextKill = time.Now().Add(maxTime / time.Duration(kills+1))
		}
	}
	t.Logf("%d connections answered by %d processes, %d failed; killed %v", answered, len(pids), failed, killed)
	if failed != 0 {
		t.Errorf("%d connections failed, want 0:\n%s", failed, strings.Join(failures, "\n"))
	}
	if len(killed) != kills {
		t.Fatalf("killed %d services, want %d", len(killed), kills)
	}
	if len(pids) != kills+1 {
		t.Errorf("answers came from %d processes %v, want %d (one more than the kills)", len(pids), pids, kills+1)
	}
	return pids
}

// TestServiceExitsAndRestarts: a service that exits (cleanly) after one
// connection is started again by the next one, each time a new process
// with the same listener.
func TestServiceExitsAndRestarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", p)
	e.unit("once", []string{"ListenStream=" + addr}, []string{e.probe("-conns", "1")})
	s := startIdle(t, e)
	seen := map[int]bool{}
	for i := range 3 {
		pid := checkAnswerOf(t, "tcp4", addr, "once.socket")
		if seen[pid] {
			t.Errorf("client %d answered by pid %d again", i, pid)
		}
		seen[pid] = true
		// Wait for the exit, so that the next client finds no service.
		s.waitLog(5*time.Second, func(record) bool {
			return len(s.records(match("msg", "service exited", "unit", "once.socket"))) > i
		})
		if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
			t.Fatalf("pid %d still runs after it exited", pid)
		}
	}
	exits := s.records(match("msg", "service exited", "unit", "once.socket"))
	for _, r := range exits {
		if r.get("status") != "code=exited, status=0/SUCCESS" || r.get("level") != "INFO" {
			t.Errorf("exit logged as %q", r.raw)
		}
	}
	rs := e.reports()
	if len(rs) != 3 {
		t.Fatalf("%d reports, want 3", len(rs))
	}
	for _, r := range rs {
		checkReport(t, r, []string{"once.socket"}, []want{{domain: unix.AF_INET, typ: unix.SOCK_STREAM, sockname: addr}})
	}
}

// TestTriggerLimit runs a service that exits 1 at once without accepting,
// while a client's connection stays queued: every exit re-arms the
// listener, which is still readable, and the trigger limit
// (TriggerLimitIntervalSec=10s, TriggerLimitBurst=5) stops it after
// exactly 5 starts, as systemd.socket(5) documents. The unit is then
// failed and its listener closed, as systemd closes it: a new client is
// refused at once, the queued one is reset (issue 12: nobody would serve
// them); the other units still serve.
func TestTriggerLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pc, po := freePort(t), freePort(t)
	e.unit("crash", []string{
		fmt.Sprintf("ListenStream=127.0.0.1:%d", pc),
		"TriggerLimitIntervalSec=10s",
		"TriggerLimitBurst=5",
	}, []string{e.probe("-crash")})
	e.unit("other", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", po)}, []string{e.probe()})
	s := startIdle(t, e)

	pending, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", pc), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	hit := s.waitLog(15*time.Second, match("msg", "trigger limit hit, refusing further activation", "unit", "crash.socket"))
	if hit.get("level") != "ERROR" {
		t.Errorf("trigger limit logged at %s, want ERROR", hit.get("level"))
	}
	if got := hit.get("limit"); got != "5 in 10s" {
		t.Errorf("limit=%q, want \"5 in 10s\"", got)
	}
	starts := s.records(match("msg", "starting service", "unit", "crash.socket"))
	exits := s.records(match("msg", "service exited", "unit", "crash.socket"))
	if len(starts) != 5 || len(exits) != 5 {
		t.Errorf("%d starts and %d exits before the trigger limit, want 5 and 5", len(starts), len(exits))
	}
	for _, r := range exits {
		if r.get("status") != "code=exited, status=1/FAILURE" || r.get("level") != "WARN" {
			t.Errorf("exit logged as %q at %s, want \"code=exited, status=1/FAILURE\" at WARN", r.get("status"), r.get("level"))
		}
	}
	if rs := e.reports(); len(rs) != 5 {
		t.Errorf("%d services reported, want 5", len(rs))
	}
	st := e.status("crash.socket")
	if st.ActiveState != "failed" || st.Result != "trigger-limit-hit" || st.Activations != 5 {
		t.Errorf("crash.socket: %s/%s result %q after %d activations, want failed, trigger-limit-hit, 5", st.ActiveState, st.SubState, st.Result, st.Activations)
	}
	if len(st.Listeners) != 1 {
		t.Errorf("crash.socket: %d listeners in its status, want 1", len(st.Listeners))
	}
	// No sixth start comes later (bounded wait: the unit is failed, so
	// nothing is expected to happen at all).
	if waitFor(500*time.Millisecond, func() bool {
		return len(s.records(match("msg", "starting service", "unit", "crash.socket"))) > 5
	}) {
		t.Errorf("the service was started again after the trigger limit")
	}

	// The listener is closed: a new client is refused at once, and the
	// queued one is reset rather than left waiting.
	begin := time.Now()
	if _, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", pc), 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) || time.Since(begin) > 100*time.Millisecond {
		t.Errorf("connecting to the failed unit: %v after %v; want ECONNREFUSED within 100ms", err, time.Since(begin))
	}
	pending.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [1]byte
	if _, err := pending.Read(buf[:]); errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Errorf("the queued connection: read gave %v, want it reset or closed", err)
	}
	got, err := ask("tcp4", fmt.Sprintf("127.0.0.1:%d", po), 10*time.Second)
	if err != nil {
		t.Fatalf("the other unit: %v", err)
	}
	checkAnswer(t, got, "other.socket")
}

// notifyWired fails unless a Type=notify service got a NOTIFY_SOCKET.
func notifyWired(t *testing.T, r Report) {
	t.Helper()
	if !r.NotifySet || r.NotifySocket == "" {
		t.Fatalf("a Type=notify service got no NOTIFY_SOCKET")
	}
}

// TestNotifyReadyAfterDelay: a Type=notify service that sends READY=1
// after a second still answers the client that started it (the
// connection waits in the backlog); sockd counts the service as started
// only on READY=1, which ExecStartPost= shows.
func TestNotifyReadyAfterDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := freePort(t)
	post := e.path("post")
	e.unit("ready", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p)}, []string{
		"Type=notify",
		"TimeoutStartSec=20s",
		e.probe("-notify-delay", "1s"),
		// MAINPID is set for ExecStartPost=, which runs once READY=1 came.
		"ExecStartPost=/bin/sh -c 'echo $MAINPID > " + post + "'",
	})
	s := startIdle(t, e)
	type result struct {
		got string
		err error
		at  time.Time
	}
	resC := make(chan result, 1)
	go func() {
		got, err := ask("tcp4", fmt.Sprintf("127.0.0.1:%d", p), 15*time.Second)
		resC <- result{got, err, time.Now()}
	}()
	r := e.waitReports(1, 10*time.Second)[0]
	notifyWired(t, r)
	if !strings.HasPrefix(r.NotifySocket, "@sockd.") {
		t.Errorf("NOTIFY_SOCKET=%q, want a private abstract socket @sockd.PID/notify/…", r.NotifySocket)
	}
	var res result
	select {
	case res = <-resC:
	case <-time.After(20 * time.Second):
		t.Fatal("no answer within 20s")
	}
	if res.err != nil {
		t.Fatalf("the client that connected before READY=1: %v", res.err)
	}
	if pid := checkAnswer(t, res.got, "ready.socket"); pid != r.Pid {
		t.Errorf("answered by pid %d, the service is %d", pid, r.Pid)
	}
	started := time.Unix(0, r.Started)
	if d := res.at.Sub(started); d < 900*time.Millisecond {
		t.Errorf("answered %v after the service started, before its READY=1 (1s)", d)
	}
	s.waitLog(5*time.Second, match("msg", fmt.Sprintf("probe: pid %d sent READY=1: true <nil>", r.Pid)))
	var b []byte
	if !waitFor(5*time.Second, func() bool {
		var err error
		b, err = os.ReadFile(post)
		return err == nil && len(b) > 0
	}) {
		t.Fatal("ExecStartPost= did not run within 5s of READY=1")
	}
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(r.Pid) {
		t.Errorf("ExecStartPost= saw MAINPID=%q, want %d", got, r.Pid)
	}
	if fi, err := os.Stat(post); err == nil && fi.ModTime().Sub(started) < 900*time.Millisecond {
		t.Errorf("ExecStartPost= ran %v after the start, before READY=1", fi.ModTime().Sub(started))
	}
	if n := len(s.records(msgIs("service did not become ready in time, stopping it"))); n != 0 {
		t.Errorf("sockd gave up waiting for READY=1")
	}
	if !alive(r.Pid) {
		t.Errorf("the service (pid %d) is not running", r.Pid)
	}
}

// TestNotifyStartTimeout: a Type=notify service that never sends READY=1
// is stopped after TimeoutStartSec=.
func TestNotifyStartTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := freePort(t)
	e.unit("slow", []string{
		fmt.Sprintf("ListenStream=127.0.0.1:%d", p),
		// The client's connection stays queued after the stop and would
		// start the service again: one trigger per minute keeps this to
		// one start.
		"TriggerLimitIntervalSec=60s", "TriggerLimitBurst=1",
	}, []string{"Type=notify", "TimeoutStartSec=1s", e.probe("-never-ready")})
	s := startIdle(t, e)
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", p), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := e.waitReports(1, 10*time.Second)[0]
	notifyWired(t, r)
	timeout := s.waitLog(10*time.Second, match("msg", "service did not become ready in time, stopping it", "unit", "slow.socket"))
	if timeout.get("timeout") != "1s" || timeout.get("level") != "ERROR" {
		t.Errorf("logged %q", timeout.raw)
	}
	start := s.records(match("msg", "starting service", "unit", "slow.socket"))[0]
	if d := recordTime(t, timeout).Sub(recordTime(t, start)); d < 990*time.Millisecond {
		t.Errorf("gave up %v after starting the service, before TimeoutStartSec=1s", d)
	}
	if !waitFor(5*time.Second, func() bool { return !alive(r.Pid) }) {
		t.Fatalf("the service (pid %d) still runs 5s after the start timeout", r.Pid)
	}
	// It was asked to stop with SIGTERM, which the probe records.
	if _, err := os.Stat(e.path(fmt.Sprintf("reports/sigterm-%d", r.Pid))); err != nil {
		t.Errorf("the service was not sent SIGTERM: %v", err)
	}
	s.waitLog(5*time.Second, match("msg", "service stopped", "unit", "slow.socket"))
	for _, rec := range s.records(match("msg", "stopping service", "unit", "slow.socket")) {
		if rec.get("reason") != "start timed out" {
			t.Errorf("stopped with reason %q, want \"start timed out\"", rec.get("reason"))
		}
	}
	if rs := e.reports(); len(rs) != 1 {
		t.Errorf("%d starts, want 1", len(rs))
	}
}

// TestSIGTERM: sockd stops every running service (the service gets
// SIGTERM; one that ignores it gets SIGKILL after TimeoutStopSec=) and
// exits 0, leaving no service process behind.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	e.unit("polite", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p1)}, []string{e.probe()})
	e.unit("stubborn", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p2)}, []string{e.probe("-ignore-term"), "TimeoutStopSec=1s"})
	e.unit("idle", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p3)}, []string{e.probe()})
	s := startIdle(t, e)
	polite := checkAnswerOf(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", p1), "polite.socket")
	stubborn := checkAnswerOf(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", p2), "stubborn.socket")
	e.waitReports(2, 5*time.Second)

	start := time.Now()
	if code := s.stop(15 * time.Second); code != 0 {
		t.Errorf("sockd exited with %d after SIGTERM, want 0", code)
	}
	took := time.Since(start)
	s.cleanupExit = -1
	for _, pid := range []int{polite, stubborn} {
		if alive(pid) {
			t.Errorf("service pid %d survived sockd", pid)
		}
		if _, err := os.Stat(e.path(fmt.Sprintf("reports/sigterm-%d", pid))); err != nil {
			t.Errorf("service pid %d was not sent SIGTERM: %v", pid, err)
		}
	}
	if procs := serviceProcs(e.reportDir); len(procs) != 0 {
		t.Errorf("service processes %v remain after sockd exited", procs)
	}
	for _, c := range []struct{ unit string }{{"polite"}, {"stubborn"}} {
		rec := s.records(match("msg", "stopping service", "unit", c.unit+".socket"))
		if len(rec) != 1 || rec[0].get("reason") != "sockd is stopping" {
			t.Errorf("%s: stop records %v", c.unit, rec)
		}
	}
	if len(s.records(match("msg", fmt.Sprintf("probe: pid %d got SIGTERM", polite), "unit", "polite.service"))) != 1 {
		t.Errorf("the polite service did not log its SIGTERM")
	}
	if st := s.records(match("msg", "service stopped", "unit", "polite.socket")); len(st) != 1 || st[0].get("status") != "code=exited, status=0/SUCCESS" {
		t.Errorf("polite.service: %v", st)
	}
	esc := s.records(match("msg", "service did not stop in time, sending SIGKILL", "unit", "stubborn.socket"))
	if len(esc) != 1 || esc[0].get("pid") != strconv.Itoa(stubborn) || esc[0].get("timeout") != "1s" {
		t.Errorf("stubborn.service: SIGKILL escalation records %v", esc)
	}
	if st := s.records(match("msg", "service stopped", "unit", "stubborn.socket")); len(st) != 1 || st[0].get("status") != "code=killed, signal=KILL" {
		t.Errorf("stubborn.service: %v", st)
	}
	if took < time.Second {
		t.Errorf("sockd exited %v after SIGTERM, before stubborn's TimeoutStopSec=1s", took)
	}
	if len(s.records(match("unit", "idle.socket", "msg", "starting service"))) != 0 {
		t.Errorf("idle.service was started")
	}
	if len(s.records(msgIs("stopping"))) != 1 {
		t.Errorf("sockd did not log \"stopping\" once")
	}
	// The listeners are closed: nothing answers any more.
	for _, p := range []int{p1, p2, p3} {
		if c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", p), time.Second); err == nil {
			c.Close()
			t.Errorf("127.0.0.1:%d still accepts connections after sockd exited", p)
		}
	}
}

// TestSIGINT: SIGINT stops sockd like SIGTERM.
func TestSIGINT(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := freePort(t)
	e.unit("web", []string{fmt.Sprintf("ListenStream=127.0.0.1:%d", p)}, []string{e.probe()})
	s := startIdle(t, e)
	pid := checkAnswerOf(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", p), "web.socket")
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Errorf("sockd exited with %d after SIGINT, want 0", code)
	}
	s.cleanupExit = -1
	if alive(pid) {
		t.Errorf("service pid %d survived sockd", pid)
	}
}

// checkAnswerOf asks a stream listener and checks the answer.
func checkAnswerOf(t *testing.T, network, addr, name string) int {
	t.Helper()
	got, err := ask(network, addr, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	return checkAnswer(t, got, name)
}
