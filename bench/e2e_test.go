package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sockd/sockd/bench/internal/harness"
)

// The BenchmarkE2E* benchmarks build and run the real binaries; -short
// skips them. cmd/sockbench (bench/run.sh) runs the same measurements
// with interleaved samples and prints the ratios.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds sockd and tinysvc once per test binary.
func binaries(b *testing.B) (sockd, tinysvc string) {
	if testing.Short() {
		b.Skip("end-to-end benchmark: skipped with -short")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "sockd-bench-bin-")
		if buildErr != nil {
			return
		}
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		for _, p := range []string{"github.com/sockd/sockd/cmd/sockd", "github.com/sockd/sockd/bench/tinysvc"} {
			out, err := exec.Command(goBin, "build", "-o", binDir, p).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return filepath.Join(binDir, "sockd"), filepath.Join(binDir, "tinysvc")
}

// benchActivations takes one activation sample per iteration (only the
// connection is timed) and reports the median and p90.
func benchActivations(b *testing.B, m harness.Manager) {
	defer m.Close()
	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		if err := m.Prepare(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		b.StartTimer()
		s, err := harness.Probe(m.Port(), 10*time.Second)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if err := m.After(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, s.Latency())
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(harness.Percentile(lat, 50).Microseconds()), "us-p50")
	b.ReportMetric(float64(harness.Percentile(lat, 90).Microseconds()), "us-p90")
}

// BenchmarkE2EActivation times connect to first response byte of
// bench/tinysvc started by sockd and by systemd-socket-activate.
func BenchmarkE2EActivation(b *testing.B) {
	sockd, tinysvc := binaries(b)
	b.Run("sockd", func(b *testing.B) {
		m, err := harness.StartSockdManager(sockd, tinysvc, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		benchActivations(b, m)
	})
	b.Run("systemd-socket-activate", func(b *testing.B) {
		if _, err := os.Stat(harness.SSABin); err != nil {
			b.Skip(err)
		}
		benchActivations(b, harness.NewSSAManager(harness.SSABin, tinysvc, b.TempDir()))
	})
}

// BenchmarkE2EStartup times sockd from exec to "sockd ready" with 1,000
// and 10,000 units on TCP ports from 20000, and reports its RSS then.
func BenchmarkE2EStartup(b *testing.B) {
	sockd, tinysvc := binaries(b)
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			if err := harness.CheckPortsFree(20000, n); err != nil {
				b.Skip(err)
			}
			addrs, _ := harness.Addresses(harness.ListenTCP, n, 20000, "")
			dir := b.TempDir()
			if err := harness.WriteUnits(filepath.Join(dir, "units"), harness.TOML, addrs, tinysvc); err != nil {
				b.Fatal(err)
			}
			var rss int64
			for b.Loop() {
				p, err := harness.StartProc(filepath.Join(dir, "sockd.log"), sockd, "--units", filepath.Join(dir, "units"), "--runtime-dir", filepath.Join(dir, "run"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.WaitLog("sockd ready", 1, 200*time.Microsecond, time.Minute); err != nil {
					p.Stop(10 * time.Second)
					b.Fatal(err)
				}
				b.StopTimer()
				m, _ := harness.ReadMemory(p.Pid())
				rss = max(rss, m.RSSkB)
				if _, err := p.Stop(30 * time.Second); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(rss)/1024, "MB-RSS")
		})
	}
}
