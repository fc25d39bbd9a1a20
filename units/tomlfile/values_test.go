package tomlfile

import (
	"reflect"
	"testing"
	"time"

	"github.com/sockd/sockd/units"
)

// Each case writes some settings in TOML and in systemd syntax; both must
// give the same unit, and check looks at the fields themselves.
var valueTests = []struct {
	name            string
	toml            string // the [socket] and [service] tables
	socket, service string // the same in systemd syntax
	check           func(u *units.Unit) any
	want            any
}{
	{
		name: "booleans",
		toml: `[socket]
free_bind = true
reuse_port = false
[service]
send_sigkill = false
no_new_privileges = true`,
		socket:  "FreeBind=yes\nReusePort=no",
		service: "SendSIGKILL=no\nNoNewPrivileges=yes",
		check:   func(u *units.Unit) any { return []bool{u.Socket.FreeBind, u.Service.SendSIGKILL} },
		want:    []bool{true, false},
	},
	{
		name: "integers",
		toml: `[socket]
backlog = 128
ip_ttl = 64
mark = 4294967295
priority = 6
max_connections_per_source = 8
[service]
file_descriptor_store_max = 16`,
		socket:  "Backlog=128\nIPTTL=64\nMark=4294967295\nPriority=6\nMaxConnectionsPerSource=8",
		service: "FileDescriptorStoreMax=16",
		check:   func(u *units.Unit) any { return []int{u.Socket.Backlog, *u.Socket.IPTTL, *u.Socket.Mark} },
		want:    []int{128, 64, 4294967295},
	},
	{
		name: "sizes",
		toml: `[socket]
receive_buffer = "64K"
send_buffer = 65536`,
		socket: "ReceiveBuffer=64K\nSendBuffer=65536",
		check:  func(u *units.Unit) any { return []int64{u.Socket.ReceiveBuffer, u.Socket.SendBuffer} },
		want:   []int64{65536, 65536},
	},
	{
		name: "time spans",
		toml: `[socket]
keep_alive_time_sec = "1min 30s"
defer_accept_sec = 5
trigger_limit_interval_sec = 0
[service]
restart_sec = "500ms"
timeout_stop_sec = "infinity"
timeout_start_sec = 20
graceful_ready_sec = "250ms"`,
		socket:  "KeepAliveTimeSec=1min 30s\nDeferAcceptSec=5\nTriggerLimitIntervalSec=0",
		service: "RestartSec=500ms\nTimeoutStopSec=infinity\nTimeoutStartSec=20\nGracefulReadySec=250ms",
		check: func(u *units.Unit) any {
			return []time.Duration{u.Socket.KeepAliveTime, u.Socket.DeferAccept, u.Service.RestartSec, u.Service.TimeoutStart, u.Service.GracefulReady}
		},
		want: []time.Duration{90 * time.Second, 5 * time.Second, 500 * time.Millisecond, 20 * time.Second, 250 * time.Millisecond},
	},
	{
		name: "modes",
		toml: `[socket]
socket_mode = "0660"
directory_mode = "750"
[service]
umask = "0027"`,
		socket:  "SocketMode=0660\nDirectoryMode=750",
		service: "UMask=0027",
		check:   func(u *units.Unit) any { return []uint32{uint32(u.Socket.SocketMode), uint32(u.Service.UMask)} },
		want:    []uint32{0o660, 0o027},
	},
	{
		name: "strings and enumerations",
		toml: `[socket]
bind_ipv6_only = "ipv6-only"
bind_to_device = "eth0"
socket_user = "www-data"
file_descriptor_name = "web"
[service]
type = "notify"
user = "nobody"
restart = "on-failure"
kill_mode = "mixed"
standard_output = "file:/var/log/web.log"
working_directory = "-/srv/web"`,
		socket:  "BindIPv6Only=ipv6-only\nBindToDevice=eth0\nSocketUser=www-data\nFileDescriptorName=web",
		service: "Type=notify\nUser=nobody\nRestart=on-failure\nKillMode=mixed\nStandardOutput=file:/var/log/web.log\nWorkingDirectory=-/srv/web",
		check:   func(u *units.Unit) any { return u.Service.StandardOutput },
		want:    units.StdOutput{Kind: units.OutFile, Path: "/var/log/web.log"},
	},
	{
		name: "strings or integers",
		toml: `[socket]
ip_tos = "low-delay"
[service]
limit_nofile = 1024
kill_signal = 2`,
		socket:  "IPTOS=low-delay",
		service: "LimitNOFILE=1024\nKillSignal=SIGINT",
		check:   func(u *units.Unit) any { return []any{*u.Socket.IPTOS, *u.Service.LimitNOFILE} },
		want:    []any{0x10, units.Rlimit{Soft: 1024, Hard: 1024}},
	},
	{
		name: "strings or integers, the other way",
		toml: `[socket]
ip_tos = 8
[service]
limit_nofile = "1024:infinity"
kill_signal = "SIGINT"`,
		socket:  "IPTOS=throughput",
		service: "LimitNOFILE=1024:infinity\nKillSignal=2",
	},
	{
		name: "lists as arrays and as one string",
		toml: `[socket]
listen_fifo = "/run/web.fifo"
symlinks = ["/run/a", "/run/b c"]
documentation = "man:web(8)"
[service]
supplementary_groups = "adm"
documentation = ["https://example.com/web", "man:web(8)"]`,
		socket:  "ListenFIFO=/run/web.fifo\nSymlinks=/run/a \"/run/b c\"\n[Unit]\nDocumentation=man:web(8)",
		service: "SupplementaryGroups=adm\n[Unit]\nDocumentation=https://example.com/web man:web(8)",
		check:   func(u *units.Unit) any { return u.Socket.Symlinks },
		want:    []string{"/run/a", "/run/b c"},
	},
	{
		name: "command lines with quotes and prefixes",
		toml: `[service]
exec_start_pre = ["-/bin/check", "@/bin/busybox init --quiet", ":/bin/echo $HOME"]
exec_start = "/bin/sh -c 'echo \"a  b\"; exit 0'"
exec_reload = '/bin/kill -HUP $MAINPID'
exec_stop = ["/bin/a", "/bin/b x ; /bin/c"]`,
		service: "ExecStartPre=-/bin/check\nExecStartPre=@/bin/busybox init --quiet\nExecStartPre=:/bin/echo $HOME\n" +
			"ExecStart=/bin/sh -c 'echo \"a  b\"; exit 0'\nExecReload=/bin/kill -HUP $MAINPID\nExecStop=/bin/a\nExecStop=/bin/b x ; /bin/c",
		check: func(u *units.Unit) any {
			return []any{u.Service.ExecStart[0].Argv, u.Service.ExecStartPre[1].Argv, len(u.Service.ExecStop)}
		},
		want: []any{[]string{"/bin/sh", "-c", `echo "a  b"; exit 0`}, []string{"init", "--quiet"}, 3},
	},
	{
		name: "environment with spaces and quotes",
		toml: `[service]
environment = ["A=x  y", 'B="q" \n', "C=%h"]
environment_file = ["-/etc/default/web", "/etc/web.env"]`,
		service: "Environment=\"A=x  y\" \"B=\\\"q\\\" \\\\n\" C=%h\nEnvironmentFile=-/etc/default/web\nEnvironmentFile=/etc/web.env",
		check:   func(u *units.Unit) any { return u.Service.Environment },
		want:    []string{"A=x  y", `B="q" \n`, "C=/root"},
	},
	{
		name: "environment as a table",
		toml: `[service]
environment = {PORT = 8080, LANG = "C.UTF-8", MOTD = "hello world"}`,
		service: "Environment=LANG=C.UTF-8 \"MOTD=hello world\" PORT=8080",
		check:   func(u *units.Unit) any { return u.Service.Environment },
		want:    []string{"LANG=C.UTF-8", "MOTD=hello world", "PORT=8080"},
	},
	{
		name: "environment as a sub-table",
		toml: `[service.environment]
B = "2"
A = "1"`,
		service: "Environment=A=1 B=2",
	},
	{
		name: "addresses of every form",
		toml: `[socket]
listen_stream = [8080, "8081", "127.0.0.1:80", "[::1]:80", "[fe80::1%%lo]:80", "/run/web.sock", "@web", "vsock:2:1234", "vsock::1235"]
listen_datagram = "0.0.0.0:53"
listen_sequential_packet = ["/run/seq.sock"]
listen_fifo = "/run/web.fifo"`,
		socket: "ListenStream=8080\nListenStream=8081\nListenStream=127.0.0.1:80\nListenStream=[::1]:80\nListenStream=[fe80::1%%lo]:80\n" +
			"ListenStream=/run/web.sock\nListenStream=@web\nListenStream=vsock:2:1234\nListenStream=vsock::1235\n" +
			"ListenDatagram=0.0.0.0:53\nListenSequentialPacket=/run/seq.sock\nListenFIFO=/run/web.fifo",
		check: func(u *units.Unit) any {
			var out []string
			for _, l := range u.Socket.Listeners {
				out = append(out, string(l.Kind)+" "+l.Address.String())
			}
			return out
		},
		want: []string{"stream 8080", "stream 8081", "stream 127.0.0.1:80", "stream [::1]:80", "stream [fe80::1%lo]:80",
			"stream /run/web.sock", "stream @web", "stream vsock:2:1234", "stream vsock::1235",
			"datagram 0.0.0.0:53", "sequential-packet /run/seq.sock", "fifo /run/web.fifo"},
	},
	{
		name: "listeners in the order of the file",
		toml: `[socket]
listen_datagram = "53"
listen_stream = "80"`,
		socket: "ListenDatagram=53\nListenStream=80",
		check:  func(u *units.Unit) any { return u.Socket.Listeners[0].Kind },
		want:   units.Datagram,
	},
	{
		name: "descriptions and specifiers",
		toml: `[socket]
description = "socket %n"
[service]
description = "service %n on %H"`,
		socket:  "[Unit]\nDescription=socket %n",
		service: "[Unit]\nDescription=service %n on %H",
		check:   func(u *units.Unit) any { return []string{u.Socket.Description, u.Service.Description} },
		want:    []string{"socket web.socket", "service web.service on host.example"},
	},
	{
		name: "accept makes the service a template",
		toml: `[service]
exec_start = "/bin/web %i"
[socket]
accept = true
listen_stream = 80`,
		socket:  "Accept=yes\nListenStream=80",
		service: "ExecStart=/bin/web %i",
		check: func(u *units.Unit) any {
			return []any{u.Service.Name, u.Service.ExecStart[0].Argv, u.Socket.TriggerLimitBurst}
		},
		want: []any{"web@.service", []string{"/bin/web", "%i"}, 200},
	},
	{
		name: "service names another unit",
		toml: `[socket]
service = "other.service"
[service]
description = "%n"`,
		socket:  "Service=other.service",
		service: "[Unit]\nDescription=%n",
		check:   func(u *units.Unit) any { return u.Service.Description },
		want:    "other.service",
	},
	{
		name: "an empty string is the default",
		toml: `[service]
user = ""
timeout_stop_sec = ""`,
		service: "User=\nTimeoutStopSec=",
	},
}

func TestValues(t *testing.T) {
	for _, tt := range valueTests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLoad(t, "web", tt.toml)
			want := systemdUnit(t, "web", tt.socket, tt.service)
			if !units.Equal(got, want) {
				t.Errorf("TOML and systemd units differ:\n%s", diffUnits(got, want))
			}
			if tt.check != nil {
				if v := tt.check(got); !reflect.DeepEqual(v, tt.want) {
					t.Errorf("got %#v; want %#v", v, tt.want)
				}
			}
		})
	}
}
