/* oneline: the trivial per-connection program of bench/accept. It writes
 * "hello\n" to the connection and exits: to fd 3 when a socket-activation
 * manager passed the connection there (LISTEN_FDS set), else to stdout
 * (inetd style). */
#include <stdlib.h>
#include <unistd.h>

int main(void) {
	int fd = getenv("LISTEN_FDS") ? 3 : 1;
	static const char line[] = "hello\n";
	return write(fd, line, sizeof line - 1) == sizeof line - 1 ? 0 : 1;
}
