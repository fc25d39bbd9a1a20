package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockd/sockd/bench/internal/harness"
	"github.com/sockd/sockd/internal/loadgen"
)

// manager runs examples/hello-http on addr and changes it under load:
// sockd upgrades itself, systemd-socket-activate is restarted.
type manager interface {
	name() string
	verb() string // what an event is: "upgrades", "restarts"
	start() error // start and wait until it listens
	event(ctx context.Context, i int) error
	stop() error
}

// span is one event: from its command to its end.
type span struct{ start, end time.Time }

// loadRun is one scenario: the load's result and the events under it.
type loadRun struct {
	m          manager
	res        *loadgen.Result
	events     []span
	steady     span   // the steady state before the first event
	before     string // the service's answer before the load
	after      string // and after it
	eventTimes []time.Duration
}

// runLoad runs the load under sockd's upgrades and under
// systemd-socket-activate's restarts, and prints the tables.
func runLoad(ctx context.Context, c config, sum *summary) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	mgrs := []manager{&sockdManager{c: c, addr: addr}}
	if c.ssa != "" {
		if _, err := os.Stat(c.ssa); err != nil {
			progress("load: %v: systemd-socket-activate left out", err)
		} else {
			mgrs = append(mgrs, &ssaManager{c: c, addr: addr})
		}
	}
	var runs []*loadRun
	for _, m := range mgrs {
		progress("load: %s, %d %s under load", m.name(), c.upgrades, m.verb())
		r, err := runScenario(ctx, c, m, addr)
		var crash *crashError
		if errors.As(err, &crash) {
			fmt.Printf("⚠ **sockd crashed** under load during upgrade %d: `%s`\n\n", crash.gen, crash.what)
			sum.add(fmt.Sprintf("sockd under load: upgrade %d", crash.gen), "**sockd crashed**", "no crash", "`"+crash.what+"`")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.name(), err)
		}
		runs = append(runs, r)
	}
	fmt.Printf("## Requests to examples/hello-http under load (%d new-connection + %d keep-alive workers, %.0f requests/s each)\n\n",
		c.conns, c.keepAlive, c.rate)
	for _, r := range runs {
		r.printLatency(c, sum)
	}
	printSideBySide(runs, sum)
	return nil
}

func freeAddr() (string, error) {
	p, err := harness.FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", p), nil
}

// runScenario starts m, puts the load on, lets it run steady for
// c.steady, makes c.upgrades events c.gap apart, and stops.
func runScenario(ctx context.Context, c config, m manager, addr string) (r *loadRun, err error) {
	if err := m.start(); err != nil {
		return nil, err
	}
	defer func() {
		if e := m.stop(); e != nil && err == nil {
			err = fmt.Errorf("stopping: %w", e)
		}
	}()
	r = &loadRun{m: m}
	if r.before, err = getOK(ctx, addr, 10*time.Second); err != nil {
		return nil, err
	}
	if sm, ok := m.(*sockdManager); ok {
		sm.service = servicePID(r.before)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan *loadgen.Result, 1)
	cfg := loadgen.Config{
		Addr: addr, Want: "hello from pid", Conns: c.conns, KeepAlive: c.keepAlive, Rate: c.rate,
		Duration: c.steady + time.Duration(c.upgrades+1)*c.gap + time.Minute, Timeout: 5 * time.Second,
	}
	go func() {
		res, err := loadgen.Run(lctx, cfg)
		if err != nil {
			progress("load: %v", err)
		}
		done <- res
	}()
	t0 := time.Now()
	for i := 1; i <= c.upgrades && err == nil; i++ {
		if !sleep(ctx, time.Until(t0.Add(c.steady+time.Duration(i-1)*c.gap))) {
			err = ctx.Err()
			break
		}
		s := span{start: time.Now()}
		err = m.event(ctx, i)
		s.end = time.Now()
		r.events = append(r.events, s)
	}
	if err == nil && !sleep(ctx, c.gap) {
		err = ctx.Err()
	}
	cancel()
	r.res = <-done
	if err != nil {
		return nil, err
	}
	if r.res == nil {
		return nil, errors.New("the load did not run")
	}
	r.steady = span{start: r.res.Start.Add(500 * time.Millisecond), end: r.events[0].start.Add(-c.window)}
	r.after, err = getOK(ctx, addr, 10*time.Second)
	return r, err
}

// getOK GETs http://addr/ until it answers 200, for at most timeout, and
// returns the body.
func getOK(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return strings.TrimSpace(string(body)), nil
			}
			err = fmt.Errorf("status %s, %v", resp.Status, rerr)
		}
		last = err
		if !sleep(ctx, 20*time.Millisecond) {
			return "", fmt.Errorf("GET http://%s/: %w", addr, last)
		}
	}
}

// servicePID is the pid in hello-http's answer "hello from pid N, up …".
func servicePID(body string) string {
	f := strings.Fields(strings.TrimSuffix(body, "\n"))
	if len(f) >= 4 {
		return strings.TrimSuffix(f[3], ",")
	}
	return "?"
}

// sockdManager runs hello-http as a Type=notify unit of sockd and
// upgrades sockd, alternating c.sockd2 and c.sockd.
type sockdManager struct {
	c        config
	addr     string
	s        *sockdProc
	upgrades []*upgrade
	service  string // the pid of hello-http
}

func (m *sockdManager) name() string { return "sockd, `sockctl upgrade`" }
func (m *sockdManager) verb() string { return "upgrades" }

func (m *sockdManager) start() error {
	dir := filepath.Join(m.c.work, "load-units")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"hello.socket":  "[Socket]\nListenStream=" + m.addr + "\n",
		"hello.service": "[Service]\nType=notify\nExecStart=" + m.c.hello + "\nRestart=on-failure\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	s, _, err := startSockd(m.c, "load", dir)
	m.s = s
	return err
}

func (m *sockdManager) event(ctx context.Context, i int) error {
	binary := m.c.sockd2
	if i%2 == 0 {
		binary = m.c.sockd
	}
	u, err := m.s.upgrade(ctx, binary, i+1)
	if u != nil {
		m.upgrades = append(m.upgrades, u)
	}
	return err
}

func (m *sockdManager) stop() error {
	crashed := m.s.Alive() != nil
	_, err := m.s.Stop(30 * time.Second)
	if crashed {
		// Nobody stops the service of a sockd that died: it is ours.
		if pid, perr := strconv.Atoi(m.service); perr == nil {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == m.c.hello {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return err
}

// ssaManager runs hello-http under systemd-socket-activate and restarts
// it: SIGTERM, wait for the exit, start again, wait until it listens.
type ssaManager struct {
	c    config
	addr string
	p    *harness.Proc
	n    int
}

func (m *ssaManager) name() string { return "systemd-socket-activate, restarted" }
func (m *ssaManager) verb() string { return "restarts" }

func (m *ssaManager) start() error {
	m.n++
	p, err := harness.StartProc(filepath.Join(m.c.work, fmt.Sprintf("ssa-%d.log", m.n)), m.c.ssa, "-l", m.addr, m.c.hello)
	if err != nil {
		return err
	}
	m.p = p
	if _, err := p.WaitLog("Listening on", 1, 200*time.Microsecond, 10*time.Second); err != nil {
		p.Stop(5 * time.Second)
		m.p = nil
		return err
	}
	return nil
}

func (m *ssaManager) event(ctx context.Context, i int) error {
	if err := m.stop(); err != nil {
		return err
	}
	return m.start()
}

func (m *ssaManager) stop() error {
	if m.p == nil {
		return nil
	}
	p := m.p
	m.p = nil
	_, err := p.Stop(15 * time.Second)
	return err
}
