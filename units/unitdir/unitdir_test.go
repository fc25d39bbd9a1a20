package unitdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const service = "[Service]\nExecStart=/bin/true\n"

func names(us []*units.Unit) string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return strings.Join(out, ",")
}

func TestLoadBothFormatsAndOverride(t *testing.T) {
	lib, etc := t.TempDir(), t.TempDir()
	write(t, lib, map[string]string{
		"a.socket": "[Socket]\nListenStream=127.0.0.1:7001\n", "a.service": service,
		"b.toml": "[socket]\nlisten_stream = [\"127.0.0.1:7002\"]\n[service]\nexec_start = \"/bin/true\"\n",
	})
	// etc overrides b (TOML in lib) with a systemd unit, and a's socket.
	write(t, etc, map[string]string{
		"a.socket": "[Socket]\nListenStream=127.0.0.1:7011\n",
		"b.socket": "[Socket]\nListenStream=127.0.0.1:7012\n", "b.service": service,
	})
	res := Load([]string{lib, etc}, units.DefaultSpecifierEnv())
	if err := res.Err(); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := names(res.Units); got != "a,b" {
		t.Fatalf("units = %s; want a,b", got)
	}
	for i, want := range []string{"127.0.0.1:7011", "127.0.0.1:7012"} {
		if got := res.Units[i].Socket.Listeners[0].Address.String(); got != want {
			t.Errorf("unit %s listens on %s; want %s (the later directory wins)", res.Units[i].Name, got, want)
		}
	}
}

func TestLoadLeavesOutInvalidUnits(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"good.socket": "[Socket]\nListenStream=127.0.0.1:7021\n", "good.service": service,
		"bad.socket": "[Socket]\nListenStream=127.0.0.1:7022\nFreeBnd=yes\n", "bad.service": service,
		"zdup.toml":   "[socket]\nlisten_stream = [\"127.0.0.1:7021\"]\n[service]\nexec_start = \"/bin/true\"\n",
		"both.socket": "[Socket]\nListenStream=127.0.0.1:7023\n", "both.service": service,
		"both.toml": "[socket]\nlisten_stream = [\"127.0.0.1:7024\"]\n[service]\nexec_start = \"/bin/true\"\n",
	})
	res := Load([]string{dir}, units.DefaultSpecifierEnv())
	if got := names(res.Units); got != "good" {
		t.Errorf("units = %s; want good", got)
	}
	msg := res.Err().Error()
	for _, want := range []string{
		filepath.Join(dir, "bad.socket") + ":3: [Socket] FreeBnd: unknown directive; did you mean FreeBind?",
		filepath.Join(dir, "zdup.toml") + ":2: listen_stream: address 127.0.0.1:7021 is already claimed by unit good",
		"unit both is defined twice in one directory, as both.socket and both.toml",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors do not contain %q:\n%s", want, msg)
		}
	}
	if got := strings.Join(res.InvalidNames(), ","); got != "bad,zdup" {
		t.Errorf("invalid = %s; want bad,zdup", got)
	}
}

func TestLoadMissingDirectoryIsEmpty(t *testing.T) {
	res := Load([]string{filepath.Join(t.TempDir(), "none")}, units.DefaultSpecifierEnv())
	if len(res.Units) != 0 || res.Err() != nil {
		t.Errorf("Load of a missing directory = %d units, %v; want none, nil", len(res.Units), res.Err())
	}
}
