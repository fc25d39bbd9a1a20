//go:build cgo && amd64

// fastspawn_attrs.c: the process attributes step of the fast path's
// child. Like fastspawn.c, it runs in the child that shares sockd's
// memory: raw system calls only, no libc (see fastspawn.c).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "fastspawn_attrs.h"

static inline __attribute__((always_inline)) long
fa_sys(long n, long a, long b, long c, long d) {
	register long r10 __asm__("r10") = d;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

// fa_oom writes OOMScoreAdjust=; a lack of privilege is ignored, as
// systemd's set_oom_score_adjust does.
static long fa_oom(const struct fs_attrs *a) {
	long fd = fa_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd == -EACCES || fd == -EPERM ? 0 : fd;
	long r = fa_sys(SYS_write, fd, (long)a->oom, a->oom_len, 0);
	fa_sys(SYS_close, fd, 0, 0, 0);
	if (r == -EACCES || r == -EPERM)
		return 0;
	return r < 0 ? r : 0;
}

// fa_rlimit sets one limit, or the closest the hard limit allows when
// raising it is not permitted (systemd's setrlimit_closest).
static long fa_rlimit(int res, const uint64_t want[2]) {
	uint64_t lim[2] = {want[0], want[1]}, cur[2];
	long r = fa_sys(SYS_prlimit64, 0, res, (long)lim, 0);
	if (r != -EPERM)
		return r;
	if ((r = fa_sys(SYS_prlimit64, 0, res, 0, (long)cur)) < 0)
		return r;
	if (lim[0] > cur[1])
		lim[0] = cur[1];
	if (lim[1] > cur[1])
		lim[1] = cur[1];
	return fa_sys(SYS_prlimit64, 0, res, (long)lim, 0);
}

#define FA_TRY(flag, c, s, call)                   \
	if (a->flags & (flag)) {                   \
		long r_ = (call);                  \
		if (r_ < 0) {                      \
			*code = (c), *step = (s); \
			return r_;                 \
		}                                  \
	}

// fa_join writes "0" to a cgroup.procs file: the process joins that
// cgroup (219/CGROUP on failure, as systemd's cg_attach_everywhere).
static long fa_join(const char *procs) {
	long fd = fa_sys(SYS_openat, AT_FDCWD, (long)procs, O_WRONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	long r = fa_sys(SYS_write, fd, (long)"0", 1, 0);
	fa_sys(SYS_close, fd, 0, 0, 0);
	return r < 0 ? r : 0;
}

long fs_apply_attrs(const struct fs_attrs *a, int *code, int *step) {
	int32_t param = a->sched_priority;
	for (int i = 0; i < a->ncgroups; i++) {
		long r = fa_join(a->cgroups[i]);
		if (r < 0) {
			*code = 219, *step = FA_STEP_CGROUP + i;
			return r;
		}
	}
	FA_TRY(FA_OOM, 206, FA_STEP_OOM, fa_oom(a));
	FA_TRY(FA_NICE, 201, FA_STEP_NICE, fa_sys(SYS_setpriority, PRIO_PROCESS, 0, a->nice, 0));
	FA_TRY(FA_SCHED, 214, FA_STEP_SCHED, fa_sys(SYS_sched_setscheduler, 0, a->sched_policy, (long)&param, 0));
	FA_TRY(FA_AFFINITY, 215, FA_STEP_AFFINITY,
	       fa_sys(SYS_sched_setaffinity, 0, sizeof a->affinity, (long)a->affinity, 0));
	FA_TRY(FA_IOPRIO, 211, FA_STEP_IOPRIO, fa_sys(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, a->ioprio, 0));
	if (a->flags & FA_PERSONALITY) {
		long r = fa_sys(SYS_personality, a->personality, 0, 0, 0);
		if (r < 0) {
			*code = 230, *step = FA_STEP_PERSONALITY;
			return r;
		}
	}
	for (int res = 0; res < FA_NLIMITS; res++) {
		if (!(a->rlimit_mask & (1U << res)))
			continue;
		long r = fa_rlimit(res, a->rlimits[res]);
		if (r < 0) {
			*code = 205, *step = FA_STEP_RLIMIT + res;
			return r;
		}
	}
	return 0;
}
