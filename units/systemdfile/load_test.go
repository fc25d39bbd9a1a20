package systemdfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sockd/sockd/units"
)

// devNull in a tree written by writeTree makes the file a symlink to
// /dev/null.
const devNull = "@/dev/null"

// writeTree creates files under root; keys are slash-separated paths.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if content == devNull {
			err = os.Symlink("/dev/null", p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// testEnv is a fixed specifier environment, so that tests do not depend
// on the user running them.
var testEnv = units.SpecifierEnv{
	RuntimeDir: "/run", Home: "/root", User: "root", UID: "0", Group: "root", GID: "0",
	Hostname: "host.example", Kernel: "6.1.0",
}

// loadTree writes files into two unit directories, "lib" (lower
// priority) and "etc", and loads the socket unit name from them. Paths
// in error messages are relative to the temporary root.
func loadTree(t *testing.T, name string, files map[string]string) (*units.Unit, []string, string) {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	f := NewDirFinder([]string{filepath.Join(root, "lib"), filepath.Join(root, "etc")})
	u, err := Load(name, f, testEnv)
	var msgs []string
	for _, e := range units.Errors(err) {
		msgs = append(msgs, strings.ReplaceAll(e.Error(), root+"/", ""))
	}
	return u, msgs, root
}

const (
	webService = "[Service]\nExecStart=/bin/web\n"
	webSocket  = "[Socket]\nListenStream=8080\n"
)

func listenAddrs(u *units.Unit) []string {
	var out []string
	for _, l := range u.Socket.Listeners {
		out = append(out, l.Address.String())
	}
	return out
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		unit  string
		files map[string]string
		errs  []string
		check func(t *testing.T, u *units.Unit)
	}{
		{
			name: "continuations and comments inside them",
			unit: "web",
			files: map[string]string{
				"etc/web.socket":  "[Socket]\nListenStream=8080 \\\n# the second one:\n  9090\n",
				"etc/web.service": "[Service]\nExecStart=/bin/web \\\n  --port 1 \\\n  ; comment\n  \"a b\"\n",
			},
			check: func(t *testing.T, u *units.Unit) {
				want := []string{"/bin/web", "--port", "1", "a b"}
				if got := u.Service.ExecStart[0].Argv; !reflect.DeepEqual(got, want) {
					t.Errorf("argv = %q; want %q", got, want)
				}
			},
			// ListenStream takes one address: "8080    9090" is not one.
			errs: []string{`etc/web.socket:2: [Socket] ListenStream: *`},
		},
		{
			name: "a later directory overrides the unit file",
			unit: "web.socket",
			files: map[string]string{
				"lib/web.socket":  "[Socket]\nListenStream=80\n",
				"etc/web.socket":  "[Socket]\nListenStream=81\n",
				"lib/web.service": webService,
			},
			check: func(t *testing.T, u *units.Unit) {
				if got := listenAddrs(u); !reflect.DeepEqual(got, []string{"81"}) {
					t.Errorf("listeners = %q; want [81]", got)
				}
			},
		},
		{
			name: "drop-ins apply in file name order across directories, later directories replacing",
			unit: "web",
			files: map[string]string{
				"lib/web.socket":             webSocket,
				"lib/web.socket.d/10-a.conf": "[Socket]\nBacklog=10\n",
				"lib/web.socket.d/30-c.conf": "[Socket]\nBacklog=30\n",
				"etc/web.socket.d/10-a.conf": "[Socket]\nBacklog=11\nReusePort=yes\n",
				"etc/web.socket.d/20-b.conf": "[Socket]\nBacklog=20\n",
				"etc/web.socket.d/README":    "not a drop-in",
				"etc/web.socket.d/.x.conf":   "hidden",
				"lib/web.service":            webService,
				"etc/web.service.d/env.conf": "[Service]\nEnvironment=A=1\n",
			},
			check: func(t *testing.T, u *units.Unit) {
				if u.Socket.Backlog != 30 || !u.Socket.ReusePort {
					t.Errorf("Backlog=%d ReusePort=%v; want 30 and true", u.Socket.Backlog, u.Socket.ReusePort)
				}
				want := []string{"lib/web.socket", "etc/web.socket.d/10-a.conf", "etc/web.socket.d/20-b.conf",
					"lib/web.socket.d/30-c.conf", "lib/web.service", "etc/web.service.d/env.conf"}
				if got := relFiles(u); !reflect.DeepEqual(got, want) {
					t.Errorf("files = %q; want %q", got, want)
				}
			},
		},
		{
			name: "a drop-in symlinked to /dev/null masks the one below",
			unit: "web",
			files: map[string]string{
				"lib/web.socket":             webSocket,
				"lib/web.socket.d/10-a.conf": "[Socket]\nBacklog=10\n",
				"etc/web.socket.d/10-a.conf": devNull,
				"lib/web.service":            webService,
			},
			check: func(t *testing.T, u *units.Unit) {
				if u.Socket.Backlog != units.DefaultBacklog {
					t.Errorf("Backlog = %d; want the default", u.Socket.Backlog)
				}
			},
		},
		{
			name: "an empty assignment in a drop-in resets the list",
			unit: "web",
			files: map[string]string{
				"lib/web.socket":               "[Socket]\nListenStream=80\nListenStream=/run/web.sock\n",
				"etc/web.socket.d/listen.conf": "[Socket]\nListenStream=\nListenStream=9090\n",
				"lib/web.service":              webService,
			},
			check: func(t *testing.T, u *units.Unit) {
				if got := listenAddrs(u); !reflect.DeepEqual(got, []string{"9090"}) {
					t.Errorf("listeners = %q; want [9090]", got)
				}
			},
		},
		{
			name: "Service= names the service file",
			unit: "web",
			files: map[string]string{
				"lib/web.socket":    webSocket + "Service=other.service\n",
				"lib/web.service":   "[Service]\nExecStart=/bin/wrong\n",
				"etc/other.service": "[Service]\nExecStart=/bin/other %n\n",
			},
			check: func(t *testing.T, u *units.Unit) {
				if u.Service.Name != "other.service" {
					t.Errorf("service = %q", u.Service.Name)
				}
				want := []string{"/bin/other", "other.service"}
				if got := u.Service.ExecStart[0].Argv; !reflect.DeepEqual(got, want) {
					t.Errorf("argv = %q; want %q", got, want)
				}
			},
		},
		{
			name: "Service= set in a drop-in",
			unit: "web",
			files: map[string]string{
				"lib/web.socket":            webSocket,
				"etc/web.socket.d/svc.conf": "[Socket]\nService=other.service\n",
				"etc/other.service":         webService,
			},
			check: func(t *testing.T, u *units.Unit) {
				if u.Service.Name != "other.service" {
					t.Errorf("service = %q", u.Service.Name)
				}
			},
		},
		{
			name: "Accept=yes reads the template service and its drop-ins",
			unit: "echo",
			files: map[string]string{
				"lib/echo.socket":               "[Socket]\nListenStream=7\nAccept=yes\n",
				"lib/echo.service":              "[Service]\nExecStart=/bin/wrong\n",
				"lib/echo@.service":             "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
				"etc/echo@.service.d/user.conf": "[Service]\nUser=nobody\n",
			},
			check: func(t *testing.T, u *units.Unit) {
				if u.Service.Name != "echo@.service" || u.Service.User != "nobody" || u.Service.ExecStart[0].Path != "/bin/cat" {
					t.Errorf("service = %q user %q exec %v", u.Service.Name, u.Service.User, u.Service.ExecStart)
				}
			},
		},
		{
			name:  "missing service",
			unit:  "web",
			files: map[string]string{"etc/web.socket": webSocket},
			errs:  []string{"etc/web.socket: service unit web.service not found (searched lib, etc)"},
		},
		{
			name:  "missing template service",
			unit:  "web",
			files: map[string]string{"etc/web.socket": webSocket + "Accept=yes\n", "etc/web.service": webService},
			errs:  []string{"etc/web.socket: service unit web@.service not found (searched lib, etc)"},
		},
		{
			name: "masked service",
			unit: "web",
			files: map[string]string{
				"lib/web.socket":  webSocket,
				"lib/web.service": webService,
				"etc/web.service": devNull,
			},
			errs: []string{"lib/web.socket: service unit web.service is masked"},
		},
		{
			name:  "an empty service file is masked too",
			unit:  "web",
			files: map[string]string{"lib/web.socket": webSocket, "lib/web.service": ""},
			errs:  []string{"lib/web.socket: service unit web.service is masked"},
		},
		{
			name: "errors from every file, with path and line",
			unit: "web",
			files: map[string]string{
				"lib/web.socket":              "[Socket]\nListenStream=80\nAccept=maybe\nmissing equals\nBacklog=x\n",
				"etc/web.socket.d/bad.conf":   "Backlog=1\n[Socket]\nFoo=1\n[Service]\nUser=x\n",
				"lib/web.service":             "[Service]\nExecStart=/bin/web\nRestart=sometimes\n",
				"lib/web.service.d/bad.conf":  "[Service] # note\nUser=x\n",
				"lib/web.service.d/good.conf": "[Service]\nUser=y\n",
			},
			errs: []string{
				`lib/web.socket:3: [Socket] Accept: *`,
				`lib/web.socket:4: missing '=': "missing equals"`,
				`lib/web.socket:5: [Socket] Backlog: *`,
				`etc/web.socket.d/bad.conf:1: assignment outside of any section: "Backlog=1"`,
				`etc/web.socket.d/bad.conf:3: [Socket] Foo: *`,
				`etc/web.socket.d/bad.conf:5: [Service] User: *`,
				`lib/web.service:3: [Service] Restart: *`,
				`lib/web.service.d/bad.conf:1: invalid section header "[Service] # note"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, errs, root := loadTree(t, tt.unit, tt.files)
			if !matchErrors(errs, tt.errs) {
				t.Errorf("errors:\ngot  %q\nwant %q", errs, tt.errs)
			}
			if u == nil {
				t.Fatal("no unit")
			}
			for i, f := range u.Files {
				u.Files[i] = strings.TrimPrefix(f, root+"/")
			}
			if tt.check != nil {
				tt.check(t, u)
			}
		})
	}
}

func relFiles(u *units.Unit) []string { return u.Files }

// matchErrors compares error texts with patterns. A pattern ending in "*"
// matches any text with that prefix: the reasons package units gives are
// its own to word; this package owns the file, line and directive.
func matchErrors(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		if p, ok := strings.CutSuffix(w, "*"); ok {
			if !strings.HasPrefix(got[i], p) {
				return false
			}
		} else if got[i] != w {
			return false
		}
	}
	return true
}

func TestLoadRefused(t *testing.T) {
	tests := []struct {
		name   string
		unit   string
		files  map[string]string
		err    string
		masked bool
	}{
		{
			name:   "masked socket",
			unit:   "web",
			files:  map[string]string{"lib/web.socket": webSocket, "etc/web.socket": devNull, "lib/web.service": webService},
			err:    "etc/web.socket: socket unit web.socket is masked",
			masked: true,
		},
		{
			name:  "missing socket",
			unit:  "web.socket",
			files: map[string]string{"lib/web.service": webService},
			err:   "socket unit web.socket not found (searched lib, etc)",
		},
		{
			name:  "template socket",
			unit:  "web@.socket",
			files: map[string]string{"lib/web@.socket": webSocket},
			err:   "web@.socket: a template socket unit is not a unit: load an instance of it, web@INSTANCE.socket",
		},
		{
			name: "a name that leaves the directory",
			unit: "../web.socket",
			err:  `"../web.socket" is not a valid socket unit name`,
		},
		{
			name: "a name with a space",
			unit: "my web.socket",
			err:  `"my web.socket" is not a valid socket unit name`,
		},
		{
			name: "another unit type",
			unit: "web.service",
			err:  `"web.service" is not a valid socket unit name`,
		},
		{
			name: "only the suffix",
			unit: ".socket",
			err:  `".socket" is not a valid socket unit name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, errs, _ := loadTree(t, tt.unit, tt.files)
			if u != nil {
				t.Errorf("got a unit: %+v", u)
			}
			if len(errs) != 1 || errs[0] != tt.err {
				t.Errorf("errors:\ngot  %q\nwant %q", errs, tt.err)
			}
		})
	}
}

func TestLoadMaskedIsErrMasked(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"web.socket": devNull})
	_, err := LoadFile(filepath.Join(root, "web.socket"), testEnv)
	if !errors.Is(err, ErrMasked) {
		t.Errorf("err = %v; want ErrMasked", err)
	}
}

func TestServiceNameOutsideTheDirectory(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"etc/web.socket": webSocket + "Service=../x.service\n", "x.service": webService})
	_, err := Load("web", NewDirFinder([]string{filepath.Join(root, "etc")}), testEnv)
	// The builder refuses the name where it is written, so the service
	// searched is the default one, inside the directory.
	want := root + `/etc/web.socket:3: [Socket] Service: "../x.service" is not a service unit name`
	if errs := units.Errors(err); len(errs) == 0 || errs[0].Error() != want {
		t.Errorf("err = %v; want first error %q", err, want)
	}
}

func TestSockets(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"lib/a.socket": webSocket, "lib/b.socket": webSocket, "etc/b.socket": devNull,
		"etc/c.socket": webSocket, "etc/c.service": webService, "etc/.hidden.socket": webSocket,
		"etc/t@.socket": webSocket, "etc/d.socket.d/x.conf": "",
	})
	f := NewDirFinder([]string{filepath.Join(root, "lib"), filepath.Join(root, "missing"), filepath.Join(root, "etc")})
	got, err := f.Sockets()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.socket", "b.socket", "c.socket", "t@.socket"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sockets() = %q; want %q", got, want)
	}
}

// TestLoadRealistic loads a unit pair as a distribution might ship it,
// with an administrator's drop-in, and checks the model.
func TestLoadRealistic(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"lib/web.socket": `# Packaged socket for the web service.
[Unit]
Description=Web server socket
Documentation=man:web(8) https://example.com/web

[Socket]
ListenStream=80
ListenStream=[::1]:8080
ListenStream=%t/web/web.sock
SocketMode=0660
SocketUser=www-data
Backlog=512
NoDelay=yes
KeepAlive=true
KeepAliveTimeSec=5min
FileDescriptorName=http

[Install]
WantedBy=sockets.target
`,
		"lib/web.service": `[Unit]
Description=Web server
After=network.target

[Service]
Type=notify
ExecStartPre=-/usr/bin/web --check \
    --config /etc/web.conf
ExecStart=/usr/bin/web --config /etc/web.conf \
          ; fd names follow
          --name=%N
Environment="GREETING=hello world" LANG=C
User=www-data
Restart=on-failure
RestartSec=2
TimeoutStopSec=30s
`,
		"etc/web.socket.d/override.conf": "[Socket]\nBacklog=1024\nListenStream=\nListenStream=443\n",
	})
	u, err := Load("web.socket", NewDirFinder([]string{filepath.Join(root, "lib"), filepath.Join(root, "etc")}), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	s, svc := u.Socket, u.Service
	checks := []struct {
		name      string
		got, want any
	}{
		{"Name", u.Name, "web"},
		{"Description", s.Description, "Web server socket"},
		{"Documentation", s.Documentation, []string{"man:web(8)", "https://example.com/web"}},
		{"Listeners", listenAddrs(u), []string{"443"}},
		{"SocketMode", s.SocketMode, os.FileMode(0o660)},
		{"SocketUser", s.SocketUser, "www-data"},
		{"Backlog", s.Backlog, 1024},
		{"NoDelay", s.NoDelay, true},
		{"KeepAlive", s.KeepAlive, true},
		{"KeepAliveTime", s.KeepAliveTime, 5 * time.Minute},
		{"FileDescriptorName", s.FileDescriptorName, "http"},
		{"Service.Name", svc.Name, "web.service"},
		{"Service.Description", svc.Description, "Web server"},
		{"Type", svc.Type, units.TypeNotify},
		{"ExecStartPre", svc.ExecStartPre, []units.Command{{Path: "/usr/bin/web", Argv: []string{"/usr/bin/web", "--check", "--config", "/etc/web.conf"}, IgnoreFailure: true}}},
		{"ExecStart", svc.ExecStart, []units.Command{{Path: "/usr/bin/web", Argv: []string{"/usr/bin/web", "--config", "/etc/web.conf", "--name=web"}}}},
		{"Environment", svc.Environment, []string{"GREETING=hello world", "LANG=C"}},
		{"User", svc.User, "www-data"},
		{"Restart", svc.Restart, units.RestartOnFailure},
		{"RestartSec", svc.RestartSec, 2 * time.Second},
		{"TimeoutStop", svc.TimeoutStop, 30 * time.Second},
		{"Files", len(u.Files), 3},
		{"Where Backlog", u.Where[units.Key("Socket", "Backlog")].Line, 2},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v; want %#v", c.name, c.got, c.want)
		}
	}
}
