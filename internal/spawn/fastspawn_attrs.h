//go:build cgo && amd64

// fastspawn_attrs.h: the process attributes (Limit*=, Nice=, …) that the
// fast path's child applies; attrs.go describes them.

#include <stdint.h>

// Which fields of fs_attrs are set.
enum {
	FA_OOM = 1 << 0,
	FA_NICE = 1 << 1,
	FA_SCHED = 1 << 2,
	FA_AFFINITY = 1 << 3,
	FA_IOPRIO = 1 << 4,
	FA_PERSONALITY = 1 << 5,
};

#define FA_CGROUPS 6      // cgroup.procs files to join
#define FA_CGROUP_PATH 256

// The steps of fs_apply_attrs, in fs_status.step. A resource limit fails
// as FA_STEP_RLIMIT + the resource number.
enum {
	FA_STEP_OOM = 100,
	FA_STEP_NICE,
	FA_STEP_SCHED,
	FA_STEP_AFFINITY,
	FA_STEP_IOPRIO,
	FA_STEP_PERSONALITY,
	FA_STEP_CGROUP = 110, // + the index of the cgroup
	FA_STEP_RLIMIT = 120,
};

#define FA_NLIMITS 16
#define FA_AFFINITY_WORDS 128 // 8192 CPUs

struct fs_attrs {
	uint32_t flags;        // FA_*
	char oom[8];           // OOMScoreAdjust= in decimal, NUL-terminated
	int32_t oom_len;
	int32_t nice;
	int32_t sched_policy;  // SCHED_RESET_ON_FORK included
	int32_t sched_priority;
	int32_t ioprio;
	uint32_t personality;
	uint32_t rlimit_mask;  // bit n: rlimits[n] is set
	uint64_t rlimits[FA_NLIMITS][2];
	uint64_t affinity[FA_AFFINITY_WORDS];
	int32_t ncgroups;
	char cgroups[FA_CGROUPS][FA_CGROUP_PATH]; // NUL-terminated
};

// fs_apply_attrs applies a's attributes in systemd's order. It returns 0,
// or a failed system call's result (-errno) with *code and *step set.
long fs_apply_attrs(const struct fs_attrs *a, int *code, int *step);
