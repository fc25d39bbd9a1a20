package daemon

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// stateUnits loads units with many settings, in both file formats, for
// the round trips of the upgrade state.
func stateUnits(t *testing.T) []*units.Unit {
	t.Helper()
	var dirs []string
	for _, dir := range []string{
		"../../units/tomlfile/testdata/equal",
		"../../units/systemdfile/testdata/verify/good-accept",
		"../../units/systemdfile/testdata/verify/good-basic",
		"../../units/systemdfile/testdata/verify/good-dropins",
		"../../units/systemdfile/testdata/verify/good-service-redirect",
		"../../examples/units",
	} {
		if _, err := os.Stat(dir); err == nil {
			dirs = append(dirs, dir)
		}
	}
	more := t.TempDir()
	files := map[string]string{
		"lists.toml": `[socket]
listen_stream = ["127.0.0.1:7001", "/run/sockd-test/lists.sock"]
documentation = []
symlinks = []
priority = 3
keep_alive = true
keep_alive_time_sec = "30s"

[service]
type = "notify"
exec_start = "/bin/true"
exec_start_pre = ["-/bin/true a", "/bin/false"]
environment = []
limit_nofile = "1024:4096"
restart = "on-failure"
file_descriptor_store_max = 4
`,
		"reset.socket":  "[Socket]\nListenStream=127.0.0.1:7002\nListenDatagram=[::1]:7003\nSymlinks=\nBindIPv6Only=ipv6-only\n",
		"reset.service": "[Service]\nExecStart=/bin/true\nEnvironment=A=1\nEnvironment=\nSupplementaryGroups=\nStandardOutput=null\n",
		// Issue 14's settings: a map, pointers to zero, arrays of lists.
		"exec.socket": "[Socket]\nListenStream=127.0.0.1:7004\n",
		"exec.service": "[Unit]\nConditionPathExists=!/x\nStartLimitBurst=3\n[Service]\nExecStart=/bin/true\n" +
			"LimitCORE=0\nOOMScoreAdjust=0\nRuntimeDirectory=a b\nStateDirectory=\nSuccessExitStatus=3 SIGUSR1\n" +
			"WatchdogSec=3s\nTimeoutAbortSec=0\nTasksMax=10%\nSyslogIdentifier=x\nExecStopPost=/bin/true\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(more, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out []*units.Unit
	seen := map[string]bool{}
	for _, dir := range append(dirs, more) {
		res := unitdir.Load([]string{dir}, units.DefaultSpecifierEnv())
		for _, u := range res.Units {
			if !seen[u.Name] { // the test directories reuse names
				seen[u.Name] = true
				out = append(out, u)
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("loaded %d units; want at least 5", len(out))
	}
	return out
}

// TestUpgradeStateRoundTrip checks that format 2 gives the new image
// every unit's settings exactly as the old image had them (a unit that
// compared unequal would be restarted by the reload after the upgrade),
// and the saved fds and processes, in both formats.
func TestUpgradeStateRoundTrip(t *testing.T) {
	cfgs := stateUnits(t)
	started := time.Date(2026, 11, 26, 1, 2, 3, 4, time.UTC)
	h := &Handover{
		Format: handoverFormat, Generation: 3, Started: started, Binary: "/usr/bin/sockd",
		Version: "v1", Units: map[string]*supervise.Saved{}, Stopped: []string{"gone"},
	}
	// What gob leaves out: a pointer to zero, empty lists that are not
	// nil (in a struct in a list too).
	zero := *cfgs[0]
	zero.Name = "zeros"
	zero.Socket.IPTOS, zero.Socket.Priority = new(int), new(int)
	zero.Service.LimitNOFILE = &units.Rlimit{}
	zero.Socket.Documentation, zero.Service.Environment = []string{}, []string{}
	zero.Service.ExecStartPre = []units.Command{{Path: "/bin/true", Argv: []string{}}}
	// The same as cfgs[0] but for one pointer to zero: another
	// prototype.
	zero0 := *cfgs[0]
	zero0.Name = "zero0"
	zero0.Socket.Mark = new(int)
	cfgs = append(cfgs, &zero, &zero0)
	encoded := map[string]*units.Unit{}
	var list []*units.Unit
	for i, u := range cfgs {
		s := &supervise.Saved{Config: u, Counters: supervise.Counters{Activations: i, Accepted: 2 * i}}
		for j, l := range u.Socket.Listeners {
			s.Listeners = append(s.Listeners, supervise.SavedListener{Addr: l.Address.String(), FD: 100 + 10*i + j})
		}
		if i == 0 {
			s.FDStore = []supervise.SavedFD{{Name: "a", FD: 7}, {Name: "b", FD: 8, NoPoll: true}}
			s.Main = &supervise.SavedProcess{
				PID: 42, Started: started, NotifyPath: "@n", NotifyFD: 9,
				Logs:   []spawn.LogPipe{{Stream: "stdout", FD: 10}},
				Exited: &reaper.Status{Pid: 42},
			}
			s.Failed = "trigger-limit-hit"
		}
		if i == 3 { // no process: the compact encoding
			s.FDStore = []supervise.SavedFD{{Name: "c", FD: 11, NoPoll: true}}
			s.Failed = "start-limit-hit"
		}
		if i == 1 {
			s.Instances = []supervise.SavedInstance{{
				SavedProcess: supervise.SavedProcess{PID: 43, Started: started},
				Name:         "x@1.service", Instance: "1", Remote: "127.0.0.1:5", Env: []string{"REMOTE_PORT=5"},
			}}
		}
		h.Units[u.Name] = s
		if i != 2 { // unit 2's settings changed after they were encoded
			encoded[u.Name] = u
			list = append(list, u)
		}
	}
	parts, err := configParts(list)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := encodeParts(&buf, h, stateWriter{format: stateFormatParts, configs: parts, encoded: encoded}); err != nil {
		t.Fatal(err)
	}
	got, err := decodeState(buf.Bytes())
	if err != nil {
		t.Fatalf("format 2: %v", err)
	}
	checkHandover(t, "format 2", got, h)

	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err = decodeState(js)
	if err != nil {
		t.Fatalf("format 1: %v", err)
	}
	checkHandover(t, "format 1", got, h)

	if _, err := decodeState(buf.Bytes()[:buf.Len()-3]); err == nil {
		t.Error("a truncated state decoded without an error")
	}
}

func checkHandover(t *testing.T, format string, got, want *Handover) {
	t.Helper()
	if got.Generation != want.Generation || !got.Started.Equal(want.Started) || got.Binary != want.Binary ||
		got.Version != want.Version || !reflect.DeepEqual(got.Stopped, want.Stopped) {
		t.Errorf("%s: header %+v; want %+v", format, got, want)
	}
	if len(got.Units) != len(want.Units) {
		t.Fatalf("%s: %d units; want %d", format, len(got.Units), len(want.Units))
	}
	for name, w := range want.Units {
		g := got.Units[name]
		if g == nil || g.Config == nil {
			t.Errorf("%s: unit %s: no settings", format, name)
			continue
		}
		if !reflect.DeepEqual(g.Config, w.Config) {
			t.Errorf("%s: unit %s: settings\n%+v\nwant\n%+v", format, name, g.Config, w.Config)
		}
		if d := units.Diff([]*units.Unit{w.Config}, []*units.Unit{g.Config}); len(d.Changed)+len(d.Added)+len(d.Removed) > 0 {
			t.Errorf("%s: unit %s: Diff %+v", format, name, d)
		}
		gc, wc := *g, *w
		gc.Config, wc.Config = nil, nil
		normTimes(&gc)
		normTimes(&wc)
		if !reflect.DeepEqual(gc, wc) {
			t.Errorf("%s: unit %s: saved\n%+v\nwant\n%+v", format, name, gc, wc)
		}
	}
}

// normTimes drops the monotonic readings and locations that no encoding
// keeps.
func normTimes(s *supervise.Saved) {
	for _, p := range s.Processes() {
		p.Started = p.Started.UTC()
	}
	for i := range s.Instances {
		s.Instances[i].Since = s.Instances[i].Since.UTC()
	}
}

func TestStateFormatFor(t *testing.T) {
	for _, tc := range []struct {
		formats []int
		want    int
	}{{nil, stateFormatJSON}, {[]int{1}, stateFormatJSON}, {[]int{1, 2}, stateFormatParts}, {[]int{2, 3}, stateFormatParts}} {
		if got := stateFormatFor(tc.formats); got != tc.want {
			t.Errorf("stateFormatFor(%v) = %d; want %d", tc.formats, got, tc.want)
		}
	}
}

// TestSameFile checks the identity that lets the new image adopt a
// listener without activation.Matches: the same open file only.
func TestSameFile(t *testing.T) {
	a, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(a)
	b, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(b)
	stat := func(fd int) fileID {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		return fileID{FD: fd, Dev: st.Dev, Ino: st.Ino}
	}
	idA, idB := stat(a), stat(b)
	if !sameFile(a, []fileID{idB, idA}) {
		t.Errorf("sameFile(a, ids of a) = false")
	}
	other := idB
	other.FD = a // fd a was b's before: another socket now
	if sameFile(a, []fileID{other}) {
		t.Errorf("sameFile(a, ids of b under a's number) = true")
	}
	if sameFile(a, nil) || sameFile(a, []fileID{idB}) {
		t.Errorf("sameFile without a's id = true")
	}

	h := &Handover{Units: map[string]*supervise.Saved{"x": {Listeners: []supervise.SavedListener{{Addr: "127.0.0.1:1", FD: a}}}}}
	var buf bytes.Buffer
	st := stateWriter{format: stateFormatParts, ids: map[string][]fileID{"x": {idA}}}
	if err := encodeParts(&buf, h, st); err != nil {
		t.Fatal(err)
	}
	got, err := decodeState(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ids["x"], []fileID{idA}) {
		t.Errorf("ids after the round trip: %v; want %v", got.ids, []fileID{idA})
	}
}

// TestCodecFields fails when a type the compact codec encodes field by
// field (upgrade_codec.go) gains a field: teach the codec the new field,
// then the number here.
func TestCodecFields(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int
	}{
		{units.Listener{}, 2},
		{units.Address{}, 6},
		{configDelta{}, 5},
		{supervise.Saved{}, 7},
		{supervise.SavedListener{}, 2},
		{supervise.SavedFD{}, 3},
		{supervise.Counters{}, 4},
		{fileID{}, 3},
	} {
		if got := reflect.TypeOf(tc.v).NumField(); got != tc.want {
			t.Errorf("%T has %d fields; the compact codec knows %d", tc.v, got, tc.want)
		}
	}
}

// TestHandoverCloseOnExec checks that the new image makes the fds the
// state names close-on-exec, and no other fd.
func TestHandoverCloseOnExec(t *testing.T) {
	var fds []int
	for range 3 {
		var p [2]int
		if err := unix.Pipe2(p[:], 0); err != nil { // inheritable, as across the execve
			t.Fatal(err)
		}
		fds = append(fds, p[0], p[1])
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	foreign := fds[2] // between the handover's fds, not one of them
	h := &Handover{Units: map[string]*supervise.Saved{
		"a": {Listeners: []supervise.SavedListener{{FD: fds[0]}, {FD: fds[1]}}},
		"b": {FDStore: []supervise.SavedFD{{FD: fds[3]}}, Main: &supervise.SavedProcess{NotifyFD: fds[4], Logs: []spawn.LogPipe{{FD: fds[5]}}}},
	}}
	if !h.closeOnExec() {
		t.Skip("close_range(CLOSE_RANGE_CLOEXEC) is not supported: the per-fd calls are used")
	}
	for _, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := flags&unix.FD_CLOEXEC != 0, fd != foreign; got != want {
			t.Errorf("fd %d: close-on-exec %v; want %v", fd, got, want)
		}
	}
}
