/* holdpty SOCKET LOG: what `recvtty -m null` did for the original scripts, for the e2e tests'
 * source host: listens on SOCKET, takes the pty master runc sends for a terminal container,
 * and leaves a detached keeper draining it into LOG.  Prints the keeper's PID. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: holdpty SOCKET LOG\n");
		return 1;
	}
	struct console_sock cs = {.fd = -1};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	cs.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cs.fd < 0 || bind(cs.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(cs.fd, 1) < 0) {
		fprintf(stderr, "holdpty: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* Tell the caller the socket is ready, then wait for runc. */
	printf("ready\n");
	fflush(stdout);
	struct mig_err *err = NULL;
	pid_t keeper;
	int log = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log < 0) {
		fprintf(stderr, "holdpty: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	int r = console_take(&cs, 60000, log, &keeper, &err);
	close(log);
	close(cs.fd);
	unlink(argv[1]);
	if (r < 0) {
		fprintf(stderr, "holdpty: %s\n", mig_err_msg(err));
		return 1;
	}
	printf("%d\n", (int)keeper);
	return 0;
}
