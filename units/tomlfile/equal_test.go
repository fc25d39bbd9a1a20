package tomlfile

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sockd/sockd/units"
	"github.com/sockd/sockd/units/systemdfile"
)

// TestSameAsSystemd loads units written in both formats, side by side in
// testdata/equal, the systemd ones with units/systemdfile, and requires
// the same model.
func TestSameAsSystemd(t *testing.T) {
	for _, tt := range []struct {
		name  string
		check func(t *testing.T, u *units.Unit)
	}{
		{"web", func(t *testing.T, u *units.Unit) {
			if len(u.Socket.Listeners) != 6 || len(u.Service.ExecStartPre) != 2 || len(u.Service.ExecStop) != 2 {
				t.Errorf("%d listeners, %d ExecStartPre=, %d ExecStop=; want 6, 2, 2",
					len(u.Socket.Listeners), len(u.Service.ExecStartPre), len(u.Service.ExecStop))
			}
			wantArgv := []string{"/usr/bin/web", "--port", "8080", "--root", "/srv/my site", "--greeting", `hello "world"`}
			if got := u.Service.ExecStart[0].Argv; !reflect.DeepEqual(got, wantArgv) {
				t.Errorf("ExecStart argv %q; want %q", got, wantArgv)
			}
			wantEnv := []string{"GREETING=hello world", "HOME_DIR=/root", "EMPTY="}
			if !reflect.DeepEqual(u.Service.Environment, wantEnv) {
				t.Errorf("Environment %q; want %q", u.Service.Environment, wantEnv)
			}
		}},
		{"echo", func(t *testing.T, u *units.Unit) {
			if u.Service.Name != "echo@.service" || !u.Service.IsTemplate() {
				t.Errorf("service %q; want the template echo@.service", u.Service.Name)
			}
			inst := u.Service.Instantiate("1-127.0.0.1:7-127.0.0.1:4711")
			if want := []string{"MODE=echo", "PEER=1-127.0.0.1:7-127.0.0.1:4711"}; !reflect.DeepEqual(inst.Environment, want) {
				t.Errorf("instance environment %q; want %q", inst.Environment, want)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "equal")
			got, err := Load(filepath.Join(dir, tt.name+".toml"), testEnv)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want, err := systemdfile.LoadFile(filepath.Join(dir, tt.name+".socket"), testEnv)
			if err != nil {
				t.Fatalf("systemdfile.LoadFile: %v", err)
			}
			if !units.Equal(got, want) {
				t.Errorf("TOML and systemd units differ:\n%s", diffUnits(got, want))
			}
			tt.check(t, got)
		})
	}
}
