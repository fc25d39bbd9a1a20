/* minishim.c: the C twin of testdata/minishim (a yardstick, not part of
 * sockd): set LISTEN_PID to our pid and execv the program, as a C service
 * manager does between fork and exec.
 *   gcc -O2 -o minishim-c bench/testdata/minishim.c
 * Usage: minishim-c PROGRAM [ARG]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
	char pid[32];
	if (argc < 2)
		return 2;
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	execv(argv[1], argv + 1);
	return 203;
}
