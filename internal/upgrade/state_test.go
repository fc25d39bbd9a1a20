package upgrade

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/internal/reaper"
	"github.com/sockd/sockd/internal/spawn"
	"github.com/sockd/sockd/internal/supervise"
	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/unitdir"
)

// stateUnits loads units with many settings, in both file formats, from
// the repository's test data and files written here: nothing depends on
// what is installed on the machine.
func stateUnits(t testing.TB) []*units.Unit {
	t.Helper()
	dirs := []string{
		"../../units/tomlfile/testdata/equal",
		"../../units/systemdfile/testdata/verify/good-accept",
		"../../units/systemdfile/testdata/verify/good-basic",
		"../../units/systemdfile/testdata/verify/good-dropins",
		"../../units/systemdfile/testdata/verify/good-service-redirect",
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
		// Issue 14's settings: a map, pointers to zero, arrays of lists;
		// issue 13's sandbox.
		"exec.socket": "[Socket]\nListenStream=127.0.0.1:7004\n",
		"exec.service": "[Unit]\nConditionPathExists=!/x\nStartLimitBurst=3\n[Service]\nExecStart=/bin/true\n" +
			"LimitCORE=0\nOOMScoreAdjust=0\nRuntimeDirectory=a b\nStateDirectory=\nSuccessExitStatus=3 SIGUSR1\n" +
			"WatchdogSec=3s\nTimeoutAbortSec=0\nTasksMax=10%\nSyslogIdentifier=x\nExecStopPost=/bin/true\n" +
			"ProtectSystem=strict\nSystemCallFilter=@system-service\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nPrivateTmp=yes\n",
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
			for seen[u.Name] { // the test directories reuse names
				u.Name += "-again"
			}
			seen[u.Name] = true
			out = append(out, u)
		}
	}
	if len(out) < 6 {
		t.Fatalf("loaded %d units; want at least 6", len(out))
	}
	return out
}

// testState makes a state of cfgs with fds, processes and instances,
// and the settings encoded from all of them but cfgs[2] (whose settings
// changed after they were encoded).
func testState(t testing.TB, cfgs []*units.Unit) (*State, *Settings) {
	started := time.Date(2026, 11, 26, 1, 2, 3, 4, time.UTC)
	s := &State{
		Generation: 3, Started: started, Binary: "/usr/bin/sockd", Version: "v1",
		Units: map[string]*supervise.Saved{}, Stopped: []string{"gone"},
		IDs: map[string][]FileID{}, OldEpoll: 12,
	}
	var list []*units.Unit
	for i, u := range cfgs {
		sv := &supervise.Saved{Config: u, Counters: supervise.Counters{Activations: i, Accepted: 2 * i}}
		for j, l := range u.Socket.Listeners {
			sv.Listeners = append(sv.Listeners, supervise.SavedListener{Addr: l.Address.String(), FD: 100 + 10*i + j})
			s.IDs[u.Name] = append(s.IDs[u.Name], FileID{FD: 100 + 10*i + j, Dev: 7, Ino: uint64(1000 + i)})
		}
		switch i {
		case 0:
			sv.FDStore = []supervise.SavedFD{{Name: "a", FD: 7}, {Name: "b", FD: 8, NoPoll: true}}
			sv.Main = &supervise.SavedProcess{
				PID: 42, Started: started, NotifyPath: "@n", NotifyFD: 9,
				Logs:   []spawn.LogPipe{{Stream: "stdout", FD: 10}},
				Exited: &reaper.Status{Pid: 42},
			}
			sv.Failed = "trigger-limit-hit"
		case 1:
			sv.Instances = []supervise.SavedInstance{{
				SavedProcess: supervise.SavedProcess{PID: 43, Started: started},
				Name:         "x@1.service", Instance: "1", Remote: "127.0.0.1:5", Env: []string{"REMOTE_PORT=5"},
			}}
		}
		s.Units[u.Name] = sv
		if i != 2 {
			list = append(list, u)
		}
	}
	settings, err := EncodeSettings(list)
	if err != nil {
		t.Fatal(err)
	}
	return s, settings
}

// zeroUnits are units whose settings hold what some encodings lose: a
// pointer to zero and empty lists that are not nil (in a struct in a
// list too), and one differing from another only by a pointer to zero.
func zeroUnits(base *units.Unit) []*units.Unit {
	zero := *base
	zero.Name = "zeros"
	zero.Socket.IPTOS, zero.Socket.Priority = new(int), new(int)
	zero.Service.LimitNOFILE = &units.Rlimit{}
	zero.Socket.Documentation, zero.Service.Environment = []string{}, []string{}
	zero.Service.ExecStartPre = []units.Command{{Path: "/bin/true", Argv: []string{}}}
	zero0 := *base
	zero0.Name = "zero0"
	zero0.Socket.Mark = new(int)
	return []*units.Unit{&zero, &zero0}
}

// TestStateRoundTrip: both formats give the new image every unit's
// settings exactly as the old image had them (a unit that compared
// unequal would be restarted by the reload after the upgrade), and the
// saved fds and processes.
func TestStateRoundTrip(t *testing.T) {
	cfgs := stateUnits(t)
	cfgs = append(cfgs, zeroUnits(cfgs[0])...)
	s, settings := testState(t, cfgs)
	data, err := Encode(s, settings)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("format %d: %v", FormatKeyed, err)
	}
	checkState(t, "keyed", got, s)
	if !reflect.DeepEqual(got.IDs, s.IDs) || got.OldEpoll != s.OldEpoll {
		t.Errorf("keyed: ids %v epoll %d; want %v %d", got.IDs, got.OldEpoll, s.IDs, s.OldEpoll)
	}

	js, err := EncodeJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err = Decode(js)
	if err != nil {
		t.Fatalf("format %d: %v", FormatJSON, err)
	}
	checkState(t, "json", got, s)

	for n := range len(data) - 1 {
		if _, err := Decode(data[:n]); err == nil {
			t.Fatalf("a state truncated to %d of %d bytes decoded without an error", n, len(data))
		}
	}
}

func checkState(t *testing.T, format string, got, want *State) {
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
		wc := *w.Config
		wc.Where = g.Config.Where // not part of the unit's meaning; left out of the keyed format
		if !reflect.DeepEqual(g.Config, &wc) {
			t.Errorf("%s: unit %s: settings\n%+v\nwant\n%+v", format, name, g.Config, &wc)
		}
		if d := units.Diff([]*units.Unit{w.Config}, []*units.Unit{g.Config}); len(d.Changed)+len(d.Added)+len(d.Removed) > 0 {
			t.Errorf("%s: unit %s: Diff %+v", format, name, d)
		}
		gs, ws := *g, *w
		gs.Config, ws.Config = nil, nil
		normTimes(&gs)
		normTimes(&ws)
		if !reflect.DeepEqual(gs, ws) {
			t.Errorf("%s: unit %s: saved\n%+v\nwant\n%+v", format, name, gs, ws)
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

// TestDecodeRefusesUnknownFormats: a state in a format this build does
// not read is an error that says so, before anything is touched.
func TestDecodeRefusesUnknownFormats(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"format 2", []byte("sockd upgrade state 2\n\x00\x00"), "format 1"},
		{"future keyed", append([]byte(Magic), 9), "format 9"},
		{"future JSON", []byte(`{"format":4}`), "format 4"},
		{"garbage", []byte("hello"), "format 1"},
	} {
		_, err := Decode(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error naming %q", c.name, err, c.want)
		}
	}
	if _, err := Choose([]int{1, 2}); err != nil {
		t.Errorf("Choose([1 2]): %v; want JSON", err)
	}
	if f, _ := Choose([]int{1, 2}); f != FormatJSON {
		t.Errorf("Choose([1 2]) = %d; want %d", f, FormatJSON)
	}
	if f, _ := Choose(nil); f != FormatJSON {
		t.Errorf("Choose(nil) = %d; want %d", f, FormatJSON)
	}
	if f, _ := Choose([]int{FormatKeyed, 7}); f != FormatKeyed {
		t.Errorf("Choose([3 7]) = %d; want %d", f, FormatKeyed)
	}
	if _, err := Choose([]int{2, 7}); err == nil {
		t.Error("Choose([2 7]): no error; want a refusal")
	}
}

// TestCodecByName: a reader whose type differs from the writer's takes
// the fields they share by name, leaves the others zero, skips what it
// does not know, and refuses a field whose kind changed.
func TestCodecByName(t *testing.T) {
	type inner struct{ A, B int }
	type v1 struct {
		Name  string
		Count int
		Gone  []inner
		Ptr   *int
		Empty []string
		Nil   []string
	}
	type v2 struct {
		Extra bool
		Ptr   *int
		Count int
		Name  string
		Empty []string
		Nil   []string
	}
	data, err := Marshal(v1{Name: "x", Count: -3, Gone: []inner{{1, 2}}, Ptr: new(int), Empty: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	var got v2
	if err := Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "x" || got.Count != -3 || got.Ptr == nil || *got.Ptr != 0 || got.Empty == nil || got.Nil != nil || got.Extra {
		t.Errorf("got %+v", got)
	}
	type v3 struct{ Count string }
	var bad v3
	if err := Unmarshal(data, &bad); err == nil || !strings.Contains(err.Error(), "Count") {
		t.Errorf("a field whose kind changed: %v; want an error naming it", err)
	}
}

// BenchmarkDecode10000 decodes the state of 10,000 units of one
// template, as the new image does while no listener is watched.
func BenchmarkDecode10000(b *testing.B) {
	base := benchUnit(b)
	cfgs := make([]*units.Unit, 10000)
	for i := range cfgs {
		u := *base
		u.Name = fmt.Sprintf("u%05d", i)
		u.Files = []string{"/etc/sockd/units/" + u.Name + ".socket", "/etc/sockd/units/" + u.Name + ".service"}
		cfgs[i] = &u
	}
	s, settings := testState(b, cfgs)
	data, err := Encode(s, settings)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data)), "bytes")
	js, _ := json.Marshal(s)
	b.ReportMetric(float64(len(js)), "json-bytes")
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode10000 encodes the state of 10,000 idle units whose
// settings were encoded before: what the old image does while no
// listener is watched.
func BenchmarkEncode10000(b *testing.B) {
	base := benchUnit(b)
	cfgs := make([]*units.Unit, 10000)
	for i := range cfgs {
		u := *base
		u.Name = fmt.Sprintf("u%05d", i)
		cfgs[i] = &u
	}
	s, _ := testState(b, cfgs)
	settings, err := EncodeSettings(cfgs)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Encode(s, settings); err != nil {
			b.Fatal(err)
		}
	}
}

// benchUnit is the unit the benchmarks make 10,000 of.
func benchUnit(b *testing.B) *units.Unit {
	res := unitdir.Load([]string{"../../units/systemdfile/testdata/verify/good-basic"}, units.DefaultSpecifierEnv())
	if len(res.Units) == 0 {
		b.Fatal(res.Err())
	}
	return res.Units[0]
}
