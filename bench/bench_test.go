package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/sockd/sockd/activation"
	"github.com/sockd/sockd/bench/internal/harness"
	"github.com/sockd/sockd/internal/daemon"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// genUnits writes n units in format f listening on Unix sockets (no port
// can collide) and returns the unit directory.
func genUnits(tb testing.TB, n int, f harness.Format) string {
	tb.Helper()
	dir := tb.TempDir()
	sockDir := filepath.Join(dir, "s")
	if err := os.MkdirAll(sockDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	addrs, err := harness.Addresses(harness.ListenUnix, n, 0, sockDir)
	if err != nil {
		tb.Fatal(err)
	}
	unitDir := filepath.Join(dir, "units")
	if err := harness.WriteUnits(unitDir, f, addrs, "/bin/true"); err != nil {
		tb.Fatal(err)
	}
	return unitDir
}

func load(tb testing.TB, dir string, want int) []*units.Unit {
	tb.Helper()
	res := unitdir.Load([]string{dir}, units.DefaultSpecifierEnv())
	if err := res.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(res.Units) != want {
		tb.Fatalf("loaded %d units, want %d", len(res.Units), want)
	}
	return res.Units
}

func benchLoad(b *testing.B, n int, f harness.Format) {
	dir := genUnits(b, n, f)
	b.ReportAllocs()
	for b.Loop() {
		load(b, dir, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/unit")
}

// BenchmarkLoadUnits1000 is unitdir.Load on 1,000 generated NAME.toml
// units.
func BenchmarkLoadUnits1000(b *testing.B)  { benchLoad(b, 1000, harness.TOML) }
func BenchmarkLoadUnits10000(b *testing.B) { benchLoad(b, 10000, harness.TOML) }

// BenchmarkLoadUnitsSystemd1000 is the same with NAME.socket +
// NAME.service pairs.
func BenchmarkLoadUnitsSystemd1000(b *testing.B)  { benchLoad(b, 1000, harness.Systemd) }
func BenchmarkLoadUnitsSystemd10000(b *testing.B) { benchLoad(b, 10000, harness.Systemd) }

// bindAll binds every unit's listeners and returns them.
func bindAll(tb testing.TB, us []*units.Unit) []*activation.Listener {
	var all []*activation.Listener
	for _, u := range us {
		ls, err := activation.Bind(u.Name+".socket", &u.Socket)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, ls...)
	}
	return all
}

func closeAll(ls []*activation.Listener) {
	for _, l := range ls {
		l.Close()
		l.Remove()
	}
}

// BenchmarkBind1000 is activation.Bind for 1,000 units, each one Unix
// stream socket (socket, bind, chmod, listen, and the socket options).
func BenchmarkBind1000(b *testing.B) {
	us := load(b, genUnits(b, 1000, harness.TOML), 1000)
	for b.Loop() {
		ls := bindAll(b, us)
		b.StopTimer()
		closeAll(ls)
		for _, u := range us { // Bind refuses to replace a live socket
			os.Remove(u.Socket.Listeners[0].Address.Path)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/unit")
}

// BenchmarkBindTCP1000 is activation.Bind for 1,000 units, each one TCP
// port on 127.0.0.1 from 21000 up (skipped if the range is in use).
func BenchmarkBindTCP1000(b *testing.B) {
	const n, base = 1000, 21000
	if err := harness.CheckPortsFree(base, n); err != nil {
		b.Skip(err)
	}
	addrs, _ := harness.Addresses(harness.ListenTCP, n, base, "")
	dir := b.TempDir()
	if err := harness.WriteUnits(dir, harness.TOML, addrs, "/bin/true"); err != nil {
		b.Fatal(err)
	}
	us := load(b, dir, n)
	for b.Loop() {
		ls := bindAll(b, us)
		b.StopTimer()
		closeAll(ls)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/unit")
}

// live is the memory in use while the daemon is up.
type live struct{ heap, stack uint64 }

// readyHandler discards records and closes ready at "sockd ready".
type readyHandler struct {
	slog.Handler
	ready chan struct{}
}

func (h readyHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "sockd ready" {
		close(h.ready)
	}
	return nil
}

func (h readyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return readyHandler{h.Handler.WithAttrs(as), h.ready}
}

// runDaemon brings up the daemon on dir (load, bind, a supervisor per
// unit), waits until it is ready, then stops it. With measure, it returns the live heap and stack
// with the daemon up, and writes a heap profile to
// $SOCKD_BENCH_HEAPPROFILE if that is set.
func runDaemon(tb testing.TB, dir string, n int, measure bool) live {
	ready := make(chan struct{})
	log := slog.New(readyHandler{slog.NewTextHandler(io.Discard, nil), ready})
	d, err := daemon.New(daemon.Config{UnitDirs: []string{dir}, RuntimeDir: filepath.Join(filepath.Dir(dir), "run"), Log: log})
	if err != nil {
		tb.Fatal(err)
	}
	d.Load()
	if got := len(d.Units()); got != n {
		tb.Fatalf("daemon has %d units, want %d", got, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-ready
	var l live
	if measure {
		l = liveNow()
		if path := os.Getenv("SOCKD_BENCH_HEAPPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				tb.Fatal(err)
			}
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	cancel()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return l
}

func liveNow() live {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return live{heap: ms.HeapAlloc, stack: ms.StackInuse}
}

// genTCPUnits writes n units listening on 127.0.0.1:base+i, or skips
// the benchmark if that port range is in use.
func genTCPUnits(b *testing.B, n, base int) string {
	if err := harness.CheckPortsFree(base, n); err != nil {
		b.Skip(err)
	}
	addrs, err := harness.Addresses(harness.ListenTCP, n, base, "")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "units")
	if err := harness.WriteUnits(dir, harness.TOML, addrs, "/bin/true"); err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchDaemon(b *testing.B, n int) {
	dir := genTCPUnits(b, n, 22000)
	base := liveNow()
	b.ReportAllocs()
	var up live
	first := true
	for b.Loop() {
		l := runDaemon(b, dir, n, first)
		if first {
			up, first = l, false
		}
	}
	b.ReportMetric(float64(up.heap-min(up.heap, base.heap))/float64(n), "heap-B/unit")
	b.ReportMetric(float64(up.stack-min(up.stack, base.stack))/float64(n), "stack-B/unit")
}

// BenchmarkDaemon1000 is sockd's start-up and shutdown in process with
// 1,000 units on TCP ports 22000 up: load, bind, a supervisor goroutine
// per unit, then stop.
// The first iteration also reports the heap and stack in use per unit
// while the daemon is up.
func BenchmarkDaemon1000(b *testing.B)  { benchDaemon(b, 1000) }
func BenchmarkDaemon10000(b *testing.B) { benchDaemon(b, 10000) }

// TestSmoke is the quick check that runs with go test ./...: generate a
// few units in both formats, load them, bind them and bring the daemon up
// and down.
func TestSmoke(t *testing.T) {
	for _, f := range []harness.Format{harness.TOML, harness.Systemd} {
		t.Run(string(f), func(t *testing.T) {
			dir := genUnits(t, 20, f)
			us := load(t, dir, 20)
			closeAll(bindAll(t, us))
			for _, u := range us {
				os.Remove(u.Socket.Listeners[0].Address.Path)
			}
			runDaemon(t, dir, 20, false)
		})
	}
}

func Example_addresses() {
	a, _ := harness.Addresses(harness.ListenTCP, 2, 20000, "")
	fmt.Println(a)
	// Output: [127.0.0.1:20000 127.0.0.1:20001]
}
