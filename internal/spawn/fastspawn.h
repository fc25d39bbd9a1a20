//go:build cgo && amd64

// fastspawn.h: the interface between fast_cgo.go and fastspawn.c, the
// fast spawn path (see the package doc).

#include <stddef.h>
#include <stdint.h>

#include "fastspawn_attrs.h"

// How the child sets up one standard stream after the fds are in place.
enum {
	FS_STDIO_KEEP,     // keep the fd dup'ed from fds[i]
	FS_STDIO_DUP_PREV, // dup2(i-1, i): "inherit" after a file stream
	FS_STDIO_OPEN,     // open the stream's path with stdio_flags[i]
};

// How the child treats nofile_cur/nofile_max.
enum {
	FS_NOFILE_KEEP,    // leave RLIMIT_NOFILE alone
	FS_NOFILE_SET,     // LimitNOFILE=: failing is 205/LIMITS
	FS_NOFILE_RESTORE, // sockd's limit before Go raised it: errors ignored
};

// fs_args is what Go fills in for one spawn. The strings come in one
// buffer, each NUL-terminated, in this order: the program's path,
// argv[argc], env[envc], the working directory, then the paths of stdin,
// stdout and stderr (empty unless FS_STDIO_OPEN).
struct fs_args {
	int32_t argc, envc;
	int32_t nfds;           // entries in fds: the fds that become 0, 1, 2, 3, …
	int32_t listen_pid;     // append LISTEN_PID=<the child's pid>
	int32_t listen_pidfdid; // and LISTEN_PIDFDID=<pidfs inode>, if the kernel gives one
	int32_t stdio_mode[3];  // FS_STDIO_*
	int32_t stdio_flags[3]; // open(2) flags for FS_STDIO_OPEN
	int32_t umask;
	int32_t nofile;         // FS_NOFILE_*
	uint64_t nofile_cur, nofile_max;
	int32_t set_groups;     // setgroups(ngroups, groups)
	int32_t ngroups;
	int64_t gid, uid;       // setgid, setuid; -1 leaves them
	int32_t dir_optional;   // a failed chdir goes to "/" instead of failing
	int32_t no_new_privs;
	struct fs_attrs attrs;  // Limit*=, Nice=, …: fastspawn_attrs.c
};

// The step that failed, in fs_status.
enum {
	FS_STEP_SETSID = 1,
	FS_STEP_FCNTL,
	FS_STEP_DUP3,
	FS_STEP_CLOSE_RANGE,
	FS_STEP_OPEN,  // the stream is known from the exit code
	FS_STEP_DUP2,  // likewise
	FS_STEP_RLIMIT,
	FS_STEP_SETGROUPS,
	FS_STEP_SETGID,
	FS_STEP_SETUID,
	FS_STEP_CHDIR,
	FS_STEP_SIGMASK,
	FS_STEP_NNP,
	FS_STEP_EXECVE,
};

// fs_status is what the child writes into its block when a step fails,
// before it exits with code.
struct fs_status {
	int32_t code; // systemd's exit code, e.g. 203; 0 until a step fails
	int32_t err;  // errno
	int32_t step; // FS_STEP_*
};

// fs_head starts every block. busy is a futex word: FS_CLONED from
// fs_prepare, FS_OWN_SESSION once the child has called setsid (it wakes
// the futex), and 0 when the child no longer uses the block: the kernel
// clears it (CLONE_CHILD_CLEARTID) and wakes the futex when the child's
// execve has switched to the program's memory, or when the child exits.
// The parent reads status after that.
enum { FS_OWN_SESSION = 1, FS_CLONED = 2 };

struct fs_head {
	int32_t busy;
	struct fs_status status;
};

void *fs_prepare(const struct fs_args *a, const char *strs, size_t strs_len,
		const int32_t *fds, const uint32_t *groups);
long fs_clone(void *block);
void fs_free(void *block);
int fs_nofile_at_start(uint64_t *cur, uint64_t *max);
