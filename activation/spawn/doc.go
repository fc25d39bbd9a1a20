// Package spawn starts a service's main process with the socket fds it
// is passed, the way systemd's service manager does (sd_listen_fds(3),
// systemd.exec(5), systemd.service(5) "Command lines").
//
// The fds go to the service as 3, 4, … with LISTEN_FDS, LISTEN_FDNAMES
// and LISTEN_PID set. LISTEN_PID must be the service's own pid, which is
// only known in the child, and Go runs no code between fork and exec. So
// sockd spawns through a shim: it re-executes its own binary
// (/proc/self/exe) in a special mode, RunShimIfRequested. The shim sets
// LISTEN_PID (and LISTEN_PIDFDID, see below), applies what Go's ForkExec
// cannot (umask, RLIMIT_NOFILE, output files, credentials, working
// directory, signal dispositions, PR_SET_NO_NEW_PRIVS) and then execve(2)s
// the service, whose pid is the shim's.
//
// When a step fails, the shim exits with systemd's exit code for that
// step (ExitCodeName gives "203/EXEC" and the like) and writes the reason
// to a close-on-exec status pipe, which the parent reads: end of file
// without data means the exec succeeded (what Type=exec waits for).
//
// LISTEN_PIDFDID is set when the kernel's pidfds live on pidfs (Linux
// 6.9+): it is the inode number of a pidfd for the service, which
// receivers compare with their own to detect a reused pid.
//
// SpawnDirect skips the shim when a process needs nothing that only the
// shim can do (no fds to pass, so no LISTEN_PID; no User=, LimitNOFILE=,
// NoNewPrivileges=, output files, umask change or signal to reset): an
// inetd-style Accept=yes instance, whose connection is its stdin and
// stdout, then costs a plain fork and exec (about 0.65 ms) instead of a
// second Go runtime start (about 3 ms).
//
// Every service runs in its own session and process group (setsid(2)).
// No fd of sockd other than 0–2 and the passed ones reaches the service:
// the shim marks every other fd close-on-exec (close_range(2)).
//
// Children are waited for by internal/reaper, never by exec.Cmd.Wait.
package spawn
