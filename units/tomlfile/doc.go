// Package tomlfile reads sockd's native unit format: one file, NAME.toml,
// holding the socket unit NAME and the service it activates. It means
// exactly what NAME.socket and NAME.service would (systemd.socket(5),
// systemd.service(5)): every key is applied through the same directive
// table as a systemd unit (units.Builder), so the same settings in either
// format give the same units.Unit. It is strict: a key, table or value
// sockd does not take is an error, never ignored.
//
//	# /etc/sockd/units/web.toml
//	[socket]
//	description = "web front end"
//	listen_stream = ["127.0.0.1:8080", "[::1]:8080", "/run/web.sock"]
//	listen_datagram = 5353               # a bare port: [::]:5353
//	socket_mode = "0660"                 # modes are octal strings
//	receive_buffer = "256K"
//	keep_alive = true
//	keep_alive_time_sec = "5min"
//	max_connections_per_source = 8
//
//	[service]
//	description = "web server for %n"
//	exec_start_pre = "-/usr/bin/web --check"
//	exec_start = "/usr/bin/web --port 8080 --root '/srv/my site'"
//	environment = ["GREETING=hello world", "LANG=C.UTF-8"]
//	user = "www-data"
//	restart = "on-failure"
//	restart_sec = "1min 30s"
//	timeout_stop_sec = 20
//	limit_nofile = 65536
//
// # Tables
//
// [socket] holds the [Socket] directives of NAME.socket; [service] holds
// the [Service] directives of the service it activates: NAME.service, or
// the template NAME@.service with accept = true, or the unit named by the
// service key. [socket] is applied first, whatever the order of the file.
// Both take description and documentation, the [Unit] Description= and
// Documentation= of the socket and of the service. No other table is
// allowed; the [Unit] dependencies and [Install] of systemd mean nothing
// to sockd.
//
// # Keys
//
// A key is its directive's name in snake_case: ListenStream is
// listen_stream, KeepAliveTimeSec is keep_alive_time_sec, BindIPv6Only is
// bind_ipv6_only, IPTOS is ip_tos, IPTTL is ip_ttl, LimitNOFILE is
// limit_nofile, SendSIGKILL is send_sigkill, UMask is umask. KeyFor gives
// the key of any directive; Keys lists a table's keys.
//
// # Values
//
// Values have systemd's syntax and meaning, written as TOML values:
//
//   - Booleans are TOML booleans, true or false; "yes" is an error.
//   - Integers are TOML integers. ip_tos also takes its names
//     ("low-delay"), limit_nofile "SOFT:HARD" and "infinity", kill_signal
//     a name ("SIGINT").
//   - Sizes are integers (bytes) or strings with K, M, G, T suffixes
//     ("64K", base 1024).
//   - Time spans are strings ("90s", "1min 30s", "500ms", "infinity") or
//     integers, which count seconds.
//   - Modes (socket_mode, directory_mode, umask) are octal strings
//     ("0660"); an integer is refused, since TOML reads 0660 as decimal.
//   - Repeatable directives (listen_*, exec_*, environment, symlinks,
//     supplementary_groups, documentation) take an array, each element
//     one assignment, or a single element. An element is one item:
//     "/run/a b.sock" is one path, "A=x y" one variable. Addresses also
//     take an integer port.
//   - Command lines (exec_start, exec_start_pre, …) are strings in
//     systemd's command-line syntax, with its quoting and its "-", "@",
//     ":" prefixes.
//   - environment also takes a table, {LANG = "C.UTF-8", PORT = 8080},
//     applied in the order of the names.
//   - An empty string sets a directive that is not repeatable to its
//     default; an empty element of a repeatable one is an error.
//
// Strings go through systemd's specifier expansion (%n, %i, %h, %t, …;
// "%%" for a literal "%"), as they would in a systemd unit.
//
// # Errors
//
// Every problem is reported with its file, line and key, as
// "web.toml:4: listen_stram: unknown key; did you mean listen_stream?";
// Load collects all of them into a units.ErrorList.
package tomlfile
