/* tinysvc.c: the C twin of bench/tinysvc, to take the service's own
 * start-up (the Go runtime) out of the activation latency. It takes fd 3
 * (LISTEN_FDS protocol), accepts one connection, writes the same line as
 * the Go service and exits. bench/run.sh builds it when gcc is there:
 *   gcc -O2 -o tinysvc-c bench/testdata/tinysvc.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

static long long mono(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
	long long start = mono();
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	if (!pid || !n || atoi(pid) != getpid() || atoi(n) < 1) {
		fprintf(stderr, "tinysvc-c: no listening socket passed (LISTEN_FDS)\n");
		return 1;
	}
	int c = accept4(3, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		perror("tinysvc-c: accept");
		return 1;
	}
	long long accepted = mono();
	char line[128];
	int len = snprintf(line, sizeof line, "tinysvc pid=%d main=%lld accepted=%lld\n", getpid(), start, accepted);
	if (write(c, line, len) != len)
		return 1;
	close(c);
	return 0;
}
