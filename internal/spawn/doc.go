// Package spawn starts a service's processes with the socket fds they are
// passed, the way systemd's service manager does (sd_listen_fds(3),
// systemd.exec(5), systemd.service(5) "Command lines"). It owns the step
// from a Spec to a running process: nothing else in sockd forks. It is
// internal because its API takes internal/reaper's types: children are
// waited for by internal/reaper, never by exec.Cmd.Wait.
//
// # The contract: what a process started from a Spec gets
//
// Spawn and SpawnDirect take one of three paths (below), and every path
// gives the process the same things, in this order of steps; a test runs
// each behaviour on every path (bothPaths in the tests):
//
//  1. Session: its own session and process group (setsid(2)), so that
//     stop signals go to the group. Spawn returns once the group exists
//     (unless Spec.NoSessionWait).
//  2. Fds: Stdin, Stdout and Stderr as 0, 1, 2 (StdioNull: /dev/null;
//     StdioFD: that fd; StdioLog: a pipe whose lines sockd logs under the
//     unit's name; StdioInherit: the previous stream), then Spec.Files as
//     3, 4, … with close-on-exec cleared on those only. Every other fd is
//     marked close-on-exec (close_range(2)): nothing else of sockd's,
//     inherited or opened by non-Go code included, reaches the program.
//  3. Umask: Spec.UMask, or DefaultUMask (0022).
//  4. Output files (StdioFile, StdioAppend, StdioTruncate): opened after
//     the umask and before dropping privileges, as systemd does.
//  5. RLIMIT_NOFILE: LimitNOFILE=, or else the limit sockd started with
//     (the Go runtime raises sockd's own soft limit; Go's ForkExec puts it
//     back for children, and so does every path here).
//  6. Credentials: User=, Group=, SupplementaryGroups= resolved to ids
//     (User= alone keeps the user's group memberships, as initgroups(3));
//     setgroups, setgid, setuid in that order; with User=, USER, LOGNAME
//     and HOME are set unless Spec.Env has them.
//  7. Working directory: WorkingDirectory= after the user switch ("" is
//     "/", "~" the user's home, or root's without User=); with
//     DirOptional a missing one is "/".
//  8. Environment: Spec.Env without any LISTEN_* variable, then, if fds
//     are passed, LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (the process's
//     own pid), and LISTEN_PIDFDID where the kernel's pidfds live on pidfs
//     (Linux 6.9+): the inode number of a pidfd for the process, which
//     receivers compare with their own to detect a reused pid. Without
//     fds, no LISTEN_* variable at all.
//  9. Signals: every disposition at its default, ignored ones included
//     (as under nohup, or SIGTSTP ignored by a shell), and an empty signal
//     mask.
//  10. PR_SET_NO_NEW_PRIVS with NoNewPrivileges=; then execve(2) of
//     Spec.Path with Spec.Argv.
//
// Exit codes: a step that fails after the fork makes the process exit
// with systemd's code for it (systemd.exec(5) "Process Exit Codes"):
// 202/FDS, 205/LIMITS, 207/SIGNAL_MASK, 208/STDIN, 209/STDOUT, 222/STDERR,
// 216/GROUP, 217/USER, 200/CHDIR, 227/NO_NEW_PRIVILEGES, 203/EXEC, and
// 220/SETSID on the fast path. Process.WaitExec returns an *ExecError
// with the code, the errno and the same words on every path ("203/EXEC:
// execve /usr/bin/x: no such file or directory"); ExitCodeName names a
// code as systemctl does. One difference remains: where the shim and the
// direct path use Go's ForkExec, a failure of setsid or of moving the fds
// into place happens before the exec of the shim or the program, and
// Spawn returns it as an error instead of starting a process that exits
// 220 or 202.
//
// Process.ExecDone is closed once the program was exec'ed or a step
// failed (Type=exec's "started"): the fast path learns it from the kernel
// (below), the shim from its status pipe, and the direct path knows it
// when ForkExec returns (Go's ForkExec uses vfork).
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
// thread-local storage), the steps of the contract in order. A step that
// fails records (exit code, errno, step) in the block and exits with that
// code; the parent words it as the shim would.
//
// The block starts with a futex word. The child sets it after setsid and
// wakes it: Spawn sleeps on it until then, so that it never returns a
// pid whose process group does not exist yet (a stop signal sent to the
// group at once would be lost), unless Spec.NoSessionWait says that the
// caller falls back to the pid (as sockd does for Accept=yes instances).
// The kernel clears the word (CLONE_CHILD_CLEARTID) when the child is
// done with sockd's memory: when its execve has switched to the
// program's, or when it exits. No pipe and no goroutine wait for that.
// Each spawn frees the blocks of the children that are done and closes
// their ExecDone; the first call of ExecDone (or WaitExec) of a child
// that is not done yet starts a goroutine that sleeps on the futex until
// the kernel wakes it.
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
// 217/USER or 216/GROUP), sockd uses the shim. Under CI=true the tests
// fail when the fast path is missing.
//
// # The shim
//
// Without the fast path, Spawn re-executes sockd's own binary
// (/proc/self/exe) in a special mode, RunShimIfRequested, through Go's
// ForkExec, which does steps 1 and 2 (setsid, fds 0–2 and 3, …) and puts
// RLIMIT_NOFILE back. The shim does the rest of the contract in order
// (its steps list in runShim), sets LISTEN_PID and LISTEN_PIDFDID, and
// execve(2)s the service, whose pid is the shim's. That costs a second
// start of the Go runtime, about 2–3 ms. When a step fails, the shim
// exits with the step's code and writes the reason to a close-on-exec
// status pipe, which the parent reads: end of file without data means
// the exec succeeded.
//
// # The direct path
//
// SpawnDirect (Accept=yes instances) skips the shim too when there is no
// fast path and the process needs nothing that only the shim can do
// (NeedsShim: no fds to pass, so no LISTEN_PID; no User=, LimitNOFILE=,
// NoNewPrivileges=, output files, umask change or signal to reset): an
// inetd-style instance, whose connection is its stdin and stdout, then
// costs a plain fork and exec (about 0.65 ms) instead of a second Go
// runtime start (about 3 ms). Go's ForkExec does what such a process
// needs of the contract; sockd marks its own fds close-on-exec before
// the fork (close_range(2), under syscall.ForkLock held for writing).
// If the direct fork and exec fails, the process is started through the
// shim instead, so that the failure is reported as on the other paths.
//
// A Spec with a Sandbox (systemd.exec(5)'s confinement, compiled by
// internal/sandbox) always goes through the shim, which the kernel
// creates in the plan's namespaces (mount, UTS, IPC, network, and for
// PrivateUsers= a user namespace whose maps Go's ForkExec writes). The
// shim looks the user up first, then replays the plan on its locked
// thread in systemd's exec_child() order (namespaces, mounts, groups,
// capabilities around the user switch, working directory, securebits,
// no_new_privs, seccomp last) and execs with a raw execve(2).
package spawn
