package harness

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 10; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ds)
	if s.N != 10 || s.Min != time.Millisecond || s.Max != 10*time.Millisecond || s.Median != 5*time.Millisecond || s.P90 != 9*time.Millisecond {
		t.Fatalf("Summarize = %+v", s)
	}
	if got := Summarize([]time.Duration{3, 1, 2}).Median; got != 2 {
		t.Fatalf("median of 3 = %v, want 2", got)
	}
}

func TestParseLine(t *testing.T) {
	var s Sample
	if err := parseLine("tinysvc pid=42 main=1000 accepted=2000", &s); err != nil {
		t.Fatal(err)
	}
	if s.Pid != 42 || s.Main != 1000 || s.Accepted != 2000 {
		t.Fatalf("parsed %+v", s)
	}
	if err := parseLine("hello", &s); err == nil {
		t.Fatal("parsed garbage")
	}
}

func TestSplitPhases(t *testing.T) {
	out := []byte(`   10.000001000: sched:sched_process_fork: comm=sockd pid=7 child_comm=sockd child_pid=42
   10.000002000: sched:sched_process_exec: filename=/proc/self/exe pid=42 old_pid=42
   10.000005000: sched:sched_process_exec: filename=/bin/svc pid=42 old_pid=42
   10.000005000: sched:sched_process_exec: filename=/bin/svc pid=43 old_pid=43
`)
	evs := parsePerf(out)
	if len(evs) != 4 || evs[0].Time != 10_000_001_000 || evs[1].Fields["filename"] != "/proc/self/exe" {
		t.Fatalf("parsePerf = %+v", evs)
	}
	s := Sample{Connect: 10_000_000_000, FirstByte: 10_000_009_000, Pid: 42, Main: 10_000_007_000}
	ph, err := SplitPhases(evs, s, "/bin/svc")
	if err != nil {
		t.Fatal(err)
	}
	want := Phases{ToFork: 1000, ForkExec: 1000, Shim: 3000, ToExec: 5000, SvcInit: 2000, SvcServe: 2000, Total: 9000, ShimFound: true}
	if ph != want {
		t.Fatalf("phases %+v, want %+v", ph, want)
	}
	s.Pid = 43 // exec in place, as systemd-socket-activate does
	if ph, err = SplitPhases(evs, s, "/bin/svc"); err != nil || ph.ShimFound || ph.ToExec != 5000 {
		t.Fatalf("phases %+v, %v", ph, err)
	}
}

func TestLogWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewLogWatch(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f.WriteString("a=1 msg=\"service exited\"\nhalf")
	if n := w.Count("service exited"); n != 1 {
		t.Fatalf("count %d", n)
	}
	f.WriteString(" line msg=\"sockd ready\" units=3\n")
	if err := w.WaitFor("sockd ready", 1, time.Millisecond, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if n := readyUnits(w.Lines()); n != 3 {
		t.Fatalf("readyUnits = %d", n)
	}
	if err := w.WaitFor("never", 1, time.Millisecond, 5*time.Millisecond, nil); err == nil {
		t.Fatal("WaitFor found a line that is not there")
	}
}

func TestWriteUnits(t *testing.T) {
	dir := t.TempDir()
	addrs, _ := Addresses(ListenTCP, 2, 20000, "")
	if err := WriteUnits(dir, Systemd, addrs, "/bin/true"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "u00001.socket"))
	if err != nil || string(b) != "[Socket]\nListenStream=127.0.0.1:20001\n" {
		t.Fatalf("u00001.socket = %q, %v", b, err)
	}
}

// TestCPUTime: the CPU time read from /proc grows while the test spins
// (within 10 s of wall time, however loaded the machine).
func TestCPUTime(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		now, err := CPUTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now > before {
			return
		}
	}
	t.Errorf("CPUTime stayed at %v while spinning for 10 s", before)
}
