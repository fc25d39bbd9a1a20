//go:build cgo && amd64

// fastspawn.c: the C half of the fast spawn path (fast_cgo.go, the
// package doc).
//
// fs_prepare copies everything the child needs into one malloc'ed block,
// which also holds the child's stack. fs_clone starts the child with
// clone(CLONE_VM) on that stack, without CLONE_VFORK: the parent thread
// goes on at once, and the child runs in sockd's memory, next to sockd's
// running threads, until its execve replaces that memory (or it exits).
// CLONE_CHILD_CLEARTID makes the kernel clear the block's busy word at
// that moment, and only then may Go free the block (see fs_head).
//
// So the child, fs_child and what it calls, may only touch its block and
// its stack, and may only make raw system calls (fs_sys): no libc at all,
// hence no malloc, no locks, no errno and no thread-local storage (the
// child has no thread of its own in glibc's eyes; its TLS pointer is the
// parent thread's, which keeps running). This file is built without the
// stack protector, whose canary is read from TLS, and the child's code
// avoids loops a compiler could turn into memcpy or memset calls.
//
// Signals: the parent blocks every signal around clone, so the child
// starts with all blocked and with a copy of sockd's handlers (Go's). It
// sets every disposition to SIG_DFL before it unblocks anything, so no Go
// handler can run in it; a fault before that kills it (the kernel forces
// SIG_DFL for a blocked synchronous signal).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fastspawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446
#endif

#define FS_STACK (16 << 10) // the child needs about 1 KiB
#define FS_DIGITS 24        // room for a uint64 in decimal and the NUL
#define FS_SIGSET 8         // the kernel's sigset_t on amd64: 64 signals

// fs_sys makes a raw system call and returns its result or -errno.
static inline __attribute__((always_inline)) long
fs_sys(long n, long a, long b, long c, long d, long e, long f) {
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define SYS0(n) fs_sys(n, 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) fs_sys(n, (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) fs_sys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) fs_sys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) fs_sys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

// fs_block is the block fs_prepare allocates.
struct fs_block {
	struct fs_head h; // first: Go reads it as a struct fs_head
	struct fs_args a;
	int32_t *fds;
	uint32_t *groups;
	char *path, *dir, *stdio_path[3];
	char **argv, **envp;
	char *pid_digits;     // where LISTEN_PID's value goes, or NULL
	char *pidfdid_digits; // where LISTEN_PIDFDID's goes, or NULL
	char **pidfdid_env;   // its envp entry, cleared when there is no value
	char *stack_top;
};

// The kernel's struct sigaction, all zero: SIG_DFL, no flags, no mask.
static const struct {
	unsigned long handler, flags, restorer, mask;
} fs_sig_dfl;

static uint64_t fs_nofile_cur, fs_nofile_max;
static int fs_nofile_ok;

// fs_capture_nofile records RLIMIT_NOFILE as sockd started with it: a C
// constructor runs before the Go runtime, whose syscall package then
// raises the soft limit for sockd (and restores it in children it forks).
__attribute__((constructor)) static void fs_capture_nofile(void) {
	struct rlimit l;
	if (getrlimit(RLIMIT_NOFILE, &l) == 0) {
		fs_nofile_cur = l.rlim_cur;
		fs_nofile_max = l.rlim_max;
		fs_nofile_ok = 1;
	}
}

// fs_nofile_at_start returns 1 and the limit fs_capture_nofile recorded,
// or 0 if it did not run (an internally linked binary runs no C
// constructors).
int fs_nofile_at_start(uint64_t *cur, uint64_t *max) {
	*cur = fs_nofile_cur;
	*max = fs_nofile_max;
	return fs_nofile_ok;
}

// --- the child ---

// fs_fail records the failed step in the block and exits with code.
__attribute__((noreturn)) static void fs_fail(struct fs_block *b, int code, int step, long r) {
	b->h.status.err = (int32_t)-r;
	b->h.status.step = step;
	b->h.status.code = code;
	for (;;)
		SYS1(SYS_exit_group, code);
}

// fs_utoa writes v in decimal at p, NUL-terminated.
static void fs_utoa(char *p, uint64_t v) {
	int n = 1;
	for (uint64_t x = v; x >= 10; x /= 10)
		n++;
	p[n] = 0;
	do {
		p[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (n > 0);
}

// fs_fds moves fds[i] to i for every i and marks every other fd
// close-on-exec. A source below its index could be overwritten by an
// earlier target, so it moves above all targets first; F_DUPFD_CLOEXEC
// takes a free fd, so nothing else is hit.
static void fs_fds(struct fs_block *b) {
	int32_t *fds = b->fds;
	int n = b->a.nfds;
	long r;
	for (int i = 0; i < n; i++) {
		if (fds[i] < i) {
			if ((r = SYS3(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, n)) < 0)
				fs_fail(b, 202, FS_STEP_FCNTL, r);
			fds[i] = (int32_t)r;
		}
	}
	for (int i = 0; i < n; i++) {
		if (fds[i] == i) {
			if ((r = SYS3(SYS_fcntl, i, F_SETFD, 0)) < 0)
				fs_fail(b, 202, FS_STEP_FCNTL, r);
		} else if ((r = SYS3(SYS_dup3, fds[i], i, 0)) < 0) {
			fs_fail(b, 202, FS_STEP_DUP3, r);
		}
	}
	if ((r = SYS3(SYS_close_range, n, ~0U, CLOSE_RANGE_CLOEXEC)) < 0)
		fs_fail(b, 202, FS_STEP_CLOSE_RANGE, r);
}

// fs_stdio opens the file streams (after the umask, before the user
// switch, as the shim and systemd do).
static void fs_stdio(struct fs_block *b) {
	static const int codes[3] = {208, 209, 222};
	long r, fd;
	for (int i = 0; i < 3; i++) {
		switch (b->a.stdio_mode[i]) {
		case FS_STDIO_DUP_PREV:
			if ((r = SYS3(SYS_dup3, i - 1, i, 0)) < 0)
				fs_fail(b, codes[i], FS_STEP_DUP2, r);
			break;
		case FS_STDIO_OPEN:
			fd = SYS4(SYS_openat, AT_FDCWD, b->stdio_path[i], b->a.stdio_flags[i], 0666);
			if (fd < 0)
				fs_fail(b, codes[i], FS_STEP_OPEN, fd);
			if (fd != i) {
				r = SYS3(SYS_dup3, fd, i, 0);
				SYS1(SYS_close, fd);
				if (r < 0)
					fs_fail(b, codes[i], FS_STEP_DUP2, r);
			}
			break;
		}
	}
}

// fs_pidfd_ino sets *ino to the pidfs inode number of a pidfd for pid.
static int fs_pidfd_ino(long pid, uint64_t *ino) {
	struct statfs fs;
	struct stat st;
	int ok = 0;
	long fd = SYS2(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return 0;
	if (SYS2(SYS_fstatfs, fd, &fs) == 0 && fs.f_type == PID_FS_MAGIC &&
	    SYS2(SYS_fstat, fd, &st) == 0) {
		*ino = st.st_ino;
		ok = 1;
	}
	SYS1(SYS_close, fd);
	return ok;
}

static int fs_child(void *arg) {
	struct fs_block *b = arg;
	const struct fs_args *a = &b->a;
	long r;

	if ((r = SYS0(SYS_setsid)) < 0)
		fs_fail(b, 220, FS_STEP_SETSID, r);
	// The parent waits for this: its process group exists now.
	__atomic_store_n(&b->h.busy, FS_OWN_SESSION, __ATOMIC_RELEASE);
	SYS3(SYS_futex, &b->h.busy, FUTEX_WAKE, 1);
	fs_fds(b);
	SYS1(SYS_umask, a->umask);
	fs_stdio(b);
	int code, step;
	if ((r = fs_apply_attrs(&a->attrs, &code, &step)) < 0)
		fs_fail(b, code, step, r);
	if (a->nofile != FS_NOFILE_KEEP) {
		uint64_t lim[2] = {a->nofile_cur, a->nofile_max}, cur[2];
		r = SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, lim, 0);
		if (r == -EPERM && a->nofile == FS_NOFILE_SET &&
		    SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, cur) == 0) {
			// LimitNOFILE= above what may be raised: as close as the
			// hard limit allows (systemd's setrlimit_closest).
			if (lim[0] > cur[1])
				lim[0] = cur[1];
			if (lim[1] > cur[1])
				lim[1] = cur[1];
			r = SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, lim, 0);
		}
		if (r < 0 && a->nofile == FS_NOFILE_SET)
			fs_fail(b, 205, FS_STEP_RLIMIT, r);
	}
	if (a->set_groups && (r = SYS2(SYS_setgroups, a->ngroups, b->groups)) < 0)
		fs_fail(b, 216, FS_STEP_SETGROUPS, r);
	if (a->gid >= 0 && (r = SYS1(SYS_setgid, a->gid)) < 0)
		fs_fail(b, 216, FS_STEP_SETGID, r);
	if (a->uid >= 0 && (r = SYS1(SYS_setuid, a->uid)) < 0)
		fs_fail(b, 217, FS_STEP_SETUID, r);
	if ((r = SYS1(SYS_chdir, b->dir)) < 0) {
		if (!a->dir_optional)
			fs_fail(b, 200, FS_STEP_CHDIR, r);
		SYS1(SYS_chdir, "/");
	}
	if (b->pid_digits) {
		long pid = SYS0(SYS_getpid);
		uint64_t ino;
		fs_utoa(b->pid_digits, (uint64_t)pid);
		if (b->pidfdid_digits) {
			if (fs_pidfd_ino(pid, &ino))
				fs_utoa(b->pidfdid_digits, ino);
			else
				*b->pidfdid_env = NULL; // the last entry
		}
	}
	for (int sig = 1; sig <= 64; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			SYS4(SYS_rt_sigaction, sig, &fs_sig_dfl, 0, FS_SIGSET);
	}
	uint64_t none = 0;
	if ((r = SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, FS_SIGSET)) < 0)
		fs_fail(b, 207, FS_STEP_SIGMASK, r);
	if (a->no_new_privs && (r = fs_sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0)) < 0)
		fs_fail(b, 227, FS_STEP_NNP, r);
	r = SYS3(SYS_execve, b->path, b->argv, b->envp);
	fs_fail(b, 203, FS_STEP_EXECVE, r);
}

// --- the parent ---

static size_t fs_align(size_t n) { return (n + 15) & ~(size_t)15; }

// fs_next returns the string at *p and moves *p past its NUL.
static char *fs_next(char **p) {
	char *s = *p;
	*p += strlen(s) + 1;
	return s;
}

// fs_prepare returns a new block for fs_clone, or NULL if out of memory.
// strs holds exactly the strings fs_args describes.
void *fs_prepare(const struct fs_args *a, const char *strs, size_t strs_len,
		const int32_t *fds, const uint32_t *groups) {
	size_t nptrs = (size_t)a->argc + 1 + (size_t)a->envc + 3;
	size_t size = fs_align(sizeof(struct fs_block)) +
		      fs_align((size_t)a->nfds * 4 + (size_t)a->ngroups * 4) +
		      nptrs * sizeof(char *) +
		      fs_align(strs_len + 2 * (sizeof "LISTEN_PIDFDID=" + FS_DIGITS)) +
		      FS_STACK;
	char *m = malloc(size);
	if (!m)
		return NULL;
	struct fs_block *b = (struct fs_block *)m;
	char *p = m + fs_align(sizeof *b);
	memset(b, 0, sizeof *b);
	b->h.busy = FS_CLONED;
	b->a = *a;
	b->fds = (int32_t *)p;
	memcpy(p, fds, (size_t)a->nfds * 4);
	p += (size_t)a->nfds * 4;
	b->groups = (uint32_t *)p;
	if (a->ngroups > 0)
		memcpy(p, groups, (size_t)a->ngroups * 4);
	p = m + fs_align(sizeof *b) + fs_align((size_t)a->nfds * 4 + (size_t)a->ngroups * 4);
	b->argv = (char **)p;
	b->envp = b->argv + a->argc + 1;
	p = (char *)(b->envp + a->envc + 3);

	char *s = p;
	memcpy(s, strs, strs_len);
	p += strs_len;
	b->path = fs_next(&s);
	for (int i = 0; i < a->argc; i++)
		b->argv[i] = fs_next(&s);
	b->argv[a->argc] = NULL;
	int e = 0;
	for (; e < a->envc; e++)
		b->envp[e] = fs_next(&s);
	b->dir = fs_next(&s);
	for (int i = 0; i < 3; i++)
		b->stdio_path[i] = fs_next(&s);
	if (a->listen_pid) {
		memcpy(p, "LISTEN_PID=", sizeof "LISTEN_PID=" - 1);
		b->envp[e++] = p;
		b->pid_digits = p + sizeof "LISTEN_PID=" - 1;
		p = b->pid_digits + FS_DIGITS;
		if (a->listen_pidfdid) {
			memcpy(p, "LISTEN_PIDFDID=", sizeof "LISTEN_PIDFDID=" - 1);
			b->pidfdid_env = &b->envp[e];
			b->envp[e++] = p;
			b->pidfdid_digits = p + sizeof "LISTEN_PIDFDID=" - 1;
		}
	}
	b->envp[e] = NULL;
	b->stack_top = (char *)((uintptr_t)(m + size) & ~(uintptr_t)15);
	return b;
}

// fs_clone starts the child on block and returns its pid, or -errno.
// Every signal is blocked while it clones, so that the child starts with
// all of them blocked. The kernel clears h.busy when the child is done
// with the block.
long fs_clone(void *block) {
	struct fs_block *b = block;
	uint64_t all = ~(uint64_t)0, old;
	long r = SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, FS_SIGSET);
	if (r < 0)
		return r;
	long pid = clone(fs_child, b->stack_top, CLONE_VM | CLONE_CHILD_CLEARTID | SIGCHLD, b,
			 NULL, NULL, &b->h.busy);
	int err = errno;
	SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, FS_SIGSET);
	return pid < 0 ? -err : pid;
}

void fs_free(void *block) { free(block); }
