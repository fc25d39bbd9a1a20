// Package spawn starts a service's main process with the socket fds it
// is passed, the way systemd's service manager does (sd_listen_fds(3),
// systemd.exec(5), systemd.service(5) "Command lines").
//
// The fds go to the service as 3, 4, … with LISTEN_FDS, LISTEN_FDNAMES
// and LISTEN_PID set. LISTEN_PID must be the service's own pid, which is
// only known in the child, and Go runs no code between fork and exec.
// sockd has two ways around that.
//
// # The fast path (cgo, amd64)
//
// A small C spawner (fastspawn.c) forks and prepares the child itself.
// Go resolves everything first, users and groups included, and lays the
// spawn out in one malloc'ed block: paths, argv, the environment with
// room for LISTEN_PID's digits, the fds, and a 16 KiB stack. Then, under
// the reaper's lock (internal/reaper's Start), with every signal blocked
// on the calling thread, it calls clone(2) with CLONE_VM and without
// CLONE_VFORK: no page tables are copied, and the calling thread goes on
// at once, so the lock is held for the clone alone, not until the child's
// exec, and concurrent spawns do not wait for each other's children. The
// child shares sockd's memory until its execve, so it only touches its
// block and makes raw system calls (no libc: no malloc, locks, errno or
// thread-local storage). It calls setsid, moves the fds into 0, 1, 2,
// 3, … (clearing close-on-exec on those only) and marks every other fd
// close-on-exec (close_range(2)), sets the umask, opens output files,
// sets RLIMIT_NOFILE (LimitNOFILE=, or back to sockd's limit before the Go
// runtime raised it, as Go's ForkExec does), setgroups, setgid, setuid,
// chdir, writes getpid() into LISTEN_PID (and LISTEN_PIDFDID, below),
// sets every signal to its default and unblocks them, sets
// PR_SET_NO_NEW_PRIVS, and execs the program. A step that fails records
// (exit code, errno, step) in the block and exits with that code; the
// parent words it as the shim would.
//
// The block starts with a futex word. The child sets it after setsid and
// wakes it: Spawn sleeps on it until then, so that it never returns a
// pid whose process group does not exist yet (a stop signal sent to the
// group at once would be lost), unless Spec.NoSessionWait says that the
// caller falls back to the pid (as sockd does for Accept=yes instances).
// The kernel clears the word
// (CLONE_CHILD_CLEARTID) when the child is done with sockd's memory: when
// its execve has switched to the program's, or when it exits. No pipe and
// no goroutine wait for that. Each spawn frees the blocks of the children
// that are done and closes their ExecDone; the first call of ExecDone (or
// WaitExec) of a child that is not done yet starts a goroutine that
// sleeps on the futex until the kernel wakes it.
//
// The wait for setsid once also paced sockd's Accept=yes loop, whose
// exited but unreaped instances counted against MaxConnections=; the loop
// now reaps before it refuses a connection (internal/reaper Reap) and
// does not wait. Waiting until the exec, as Go's vfork did, costs more of
// sockd's CPU per connection (bench/accept/README.md).
//
// The fast path needs cgo, amd64 (the raw system calls are inline
// assembly), close_range's CLOSE_RANGE_CLOEXEC (Linux 5.11) and an
// externally linked binary, whose C constructor records the starting
// RLIMIT_NOFILE; cgo's default for a non-standard package is external
// linking. Where one is missing, and for a User=, Group= or
// SupplementaryGroups= that does not resolve (so that the shim reports
// 217/USER or 216/GROUP as before), sockd uses the shim.
//
// # The shim
//
// Without the fast path, sockd spawns through a shim: it re-executes its
// own binary (/proc/self/exe) in a special mode, RunShimIfRequested. The
// shim sets LISTEN_PID (and LISTEN_PIDFDID, see below), applies what Go's
// ForkExec cannot (umask, RLIMIT_NOFILE, output files, credentials,
// working directory, signal dispositions, PR_SET_NO_NEW_PRIVS) and then
// execve(2)s the service, whose pid is the shim's. That costs a second
// start of the Go runtime, about 2–3 ms.
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
// Without the fast path, SpawnDirect skips the shim when a process needs
// nothing that only the shim can do (no fds to pass, so no LISTEN_PID; no
// User=, LimitNOFILE=, NoNewPrivileges=, output files, umask change or
// signal to reset): an inetd-style Accept=yes instance, whose connection
// is its stdin and stdout, then costs a plain fork and exec (about
// 0.65 ms) instead of a second Go runtime start (about 3 ms).
//
// A Spec with a Sandbox (systemd.exec(5)'s confinement, compiled by
// internal/sandbox) always goes through the shim, which the kernel
// creates in the plan's namespaces (mount, UTS, IPC, network, and for
// PrivateUsers= a user namespace whose maps Go's ForkExec writes). The
// shim looks the user up first, then replays the plan on its locked
// thread in systemd's exec_child() order (namespaces, mounts, groups,
// capabilities around the user switch, working directory, securebits,
// no_new_privs, seccomp last) and execs with a raw execve(2).
//
// Every service runs in its own session and process group (setsid(2)).
// No fd of sockd other than 0–2 and the passed ones reaches the service:
// the fast path's child or the shim marks every other fd close-on-exec
// (close_range(2)).
//
// Children are waited for by internal/reaper, never by exec.Cmd.Wait.
package spawn
