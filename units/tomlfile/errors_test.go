package tomlfile

import (
	"strings"
	"testing"
)

var errorTests = []struct {
	name string
	toml string
	want string // the errors, one a line
}{
	{
		name: "unknown key with a suggestion",
		toml: `[socket]
listen_stram = "127.0.0.1:8080"`,
		want: `web.toml:2: listen_stram: unknown key; did you mean listen_stream?`,
	},
	{
		name: "a systemd name",
		toml: `[socket]
ListenStream = "8080"`,
		want: `web.toml:2: ListenStream: unknown key; did you mean listen_stream?`,
	},
	{
		name: "unknown key",
		toml: `[service]
frobnicate = 1`,
		want: `web.toml:2: frobnicate: unknown key`,
	},
	{
		name: "key of the other table",
		toml: `[socket]
user = "www-data"
[service]
listen_stream = "80"`,
		want: `web.toml:2: user: belongs in [service], not [socket]
web.toml:4: listen_stream: belongs in [socket], not [service]`,
	},
	{
		name: "directive not supported",
		toml: `[service]
root_directory = "/srv"
[socket]
tcp_congestion = "bbr"
reboot_argument = "1"`,
		want: `web.toml:2: root_directory: [Service] RootDirectory= is not supported by sockd (see sockd.unit(5): man 5 sockd.unit)
web.toml:4: tcp_congestion: [Socket] TCPCongestion= is not supported by sockd (see sockd.unit(5): man 5 sockd.unit)
web.toml:5: reboot_argument: [Unit] RebootArgument= is not supported by sockd (see sockd.unit(5): man 5 sockd.unit)`,
	},
	{
		name: "directive ignored in systemd units",
		toml: `[service]
wanted_by = ["multi-user.target"]
after = "network.target"`,
		want: `web.toml:2: wanted_by: [Install] WantedBy= means nothing to sockd, which has no dependencies or install step; remove it
web.toml:3: after: [Unit] After= means nothing to sockd, which has no dependencies or install step; remove it`,
	},
	{
		name: "wrong types",
		toml: `[socket]
free_bind = "yes"
backlog = 1.5
receive_buffer = 1.5
keep_alive_time_sec = 1.5
socket_mode = 660
bind_to_device = 1
ip_tos = true
listen_stream = true
[service]
exec_start = ["/bin/a", 1]
environment = {A = true}
symlinks = [[]]
limit_nofile = 1.0
user = 1970-01-01`,
		want: `web.toml:2: free_bind: want a boolean (true or false), got string "yes"
web.toml:3: backlog: want an integer, got float 1.5
web.toml:4: receive_buffer: want a size: an integer number of bytes, or a string such as "64K", got float 1.5
web.toml:5: keep_alive_time_sec: want a time span: a string such as "90s" or "1min 30s", or an integer number of seconds, got float 1.5
web.toml:6: socket_mode: want an octal mode as a string such as "0660", got integer 660: TOML integers are not read as octal
web.toml:7: bind_to_device: want a string, got integer 1
web.toml:8: ip_tos: want an integer 0…255 or a name such as "low-delay", got boolean true
web.toml:9: listen_stream: want an address (a string, or an integer port) or an array of them, got boolean true
web.toml:11: exec_start: element 2: want a command line (a string), got integer 1
web.toml:12: environment: A: want a string or an integer, got boolean true
web.toml:13: symlinks: belongs in [socket], not [service]
web.toml:14: limit_nofile: want an integer, or a string such as "1024:65536" or "infinity", got float 1
web.toml:15: user: want a string, got a date-time`,
	},
	{
		name: "empty elements",
		toml: `[socket]
listen_stream = ["80", ""]
[service]
exec_start = ""`,
		want: `web.toml:2: listen_stream: element 2 is an empty string
web.toml:4: exec_start: empty string; leave the key out instead`,
	},
	{
		name: "bad values",
		toml: `[socket]
listen_stream = ["127.0.0.1:99999", "localhost:80"]
receive_buffer = "64Q"
socket_mode = "0999"
backlog = -1
[service]
restart_sec = "soon"
exec_start = "/bin/web 'unbalanced"
environment = ["1A=x"]
type = "idle"`,
		want: `web.toml:2: listen_stream: address "127.0.0.1:99999": invalid port "99999": want 1…65535
web.toml:2: listen_stream: invalid address "localhost:80": "localhost" is not an IPv4 address (host names are not resolved; IPv6 needs brackets)
web.toml:3: receive_buffer: invalid size "64Q"
web.toml:4: socket_mode: invalid mode "0999", want an octal number up to 07777
web.toml:5: backlog: -1 out of range 0…2147483647
web.toml:7: restart_sec: invalid time span "soon"
web.toml:8: exec_start: unbalanced quoting: "'unbalanced"
web.toml:9: environment: invalid environment assignment "1A=x", want NAME=VALUE
web.toml:10: type: value "idle" is not supported by sockd: sockd has no job queue`,
	},
	{
		name: "unknown tables",
		toml: `[sockett]
listen_stream = "80"
[unit]
description = "x"
[[service]]
exec_start = "/bin/x"
[install.x]`,
		want: `web.toml:1: [sockett]: unknown table; did you mean [socket]?
web.toml:3: [unit]: unknown table; description and documentation are keys of [socket] and [service]
web.toml:5: service: want a table [service], got an array of tables
web.toml:7: [install]: unknown table; a unit has a [socket] and a [service] table`,
	},
	{
		name: "keys outside the tables",
		toml: `listen_stream = "80"
description = "x"
socket = "x"
bogus = 1`,
		want: `web.toml:1: listen_stream: outside any table; it belongs in [socket]
web.toml:2: description: outside any table; it belongs in [socket] or [service]
web.toml:3: socket: want a table [socket], got string "x"
web.toml:4: bogus: unknown key outside any table; a unit has a [socket] and a [service] table`,
	},
	{
		name: "TOML syntax error",
		toml: `[socket]
listen_stream = "80"
backlog = = 5`,
		want: `web.toml:3: invalid TOML: expected value but found '=' instead`,
	},
	{
		name: "TOML duplicate key",
		toml: `[socket]
listen_stream = "80"

listen_stream = "81"`,
		want: `web.toml:4: invalid TOML: Key 'socket.listen_stream' has already been defined.`,
	},
	{
		name: "lines after multi-line values",
		toml: `[service]
exec_start = """
/bin/web \
  --port 8080"""
environment = [
  "A=1", # a comment with a "quote and a ]
  '''B=
2''',
]
restart = "sometimes"
[socket]
listen_stream = "80" # ] "
"free_bind" = "no"`,
		want: `web.toml:10: restart: invalid value "sometimes", want one of [no always on-success on-failure on-abnormal on-abort on-watchdog]
web.toml:13: free_bind: want a boolean (true or false), got string "no"`,
	},
	{
		name: "errors of the whole unit",
		toml: `[socket]
listen_stream = "80"
accept = true
service = "other.service"
[service]
description = "%Z"`,
		want: `web.toml:4: service: Service= cannot be combined with Accept=yes
web.toml:6: description: unknown specifier %Z`,
	},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			u, got := loadText(t, "web", tt.toml)
			if u == nil {
				t.Error("Load returned no unit")
			}
			if want := strings.TrimSpace(tt.want); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
