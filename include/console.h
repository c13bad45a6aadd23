/* The console socket for containers with process.terminal true.
 *
 * runc restore (and run) hands the container's pty master over a unix socket
 * (--console-socket).  Someone must take it and keep it open: when the last master
 * descriptor closes, the container's shell gets SIGHUP and dies.  The seed made users run
 * `recvtty -m null` for this; we do it ourselves, and the pty is kept by a small detached
 * process that drains it into a log file until the container exits, so it outlives
 * migrate-dst and needs no second program. */
#ifndef MIG_CONSOLE_H
#define MIG_CONSOLE_H

#include <sys/types.h>

#include "err.h"

/* What the keeper writes to its log at most; later output is read and dropped. */
#define CONSOLE_LOG_MAX (1 << 20)

struct console_sock {
	char dir[64];  /* private 0700 directory holding the socket */
	char path[96]; /* the socket, passed to runc --console-socket */
	int fd;
};

int console_listen(struct console_sock *cs, struct mig_err **err);

/* Accepts runc's connection (within timeout_ms), receives the pty master and starts the
 * keeper that drains it into log_fd (a copy of it; or discards it when log_fd is -1).
 * Returns the keeper's PID in *keeper (for tests and logs). */
int console_take(struct console_sock *cs, int timeout_ms, int log_fd, pid_t *keeper,
		 struct mig_err **err);

/* Closes the socket and removes it and its directory. */
void console_close(struct console_sock *cs);

#endif
