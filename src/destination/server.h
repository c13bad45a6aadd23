/* migrate-dst's server: listens on its control socket (and a TCP port when asked), forks
 * one handler per connection (handler.h; at most 16, unauthenticated ones limited and
 * evicted oldest first, more get a "busy" reply), reaps them, and stops on SIGTERM/SIGINT
 * (stop.h), giving its handlers HANDLER_STOP_GRACE_MS before SIGKILL.  Forking, as sshd
 * does: a slow or hostile peer cannot stall a migration in progress, and a crash loses one
 * connection, not the server. */
#ifndef MIG_DST_SERVER_H
#define MIG_DST_SERVER_H

#include <stddef.h>

#include "dst.h"
#include "err.h"

struct dst_listeners {
	int unix_fd;	 /* the control socket (d->cfg->socket) */
	int tcp_fd;	 /* -1 unless -l or -p */
	char shown[256]; /* "PATH" or "PATH and 127.0.0.1:18863", for the log */
};

/* Opens the listening sockets of d's configuration: the Unix socket 0600 in a directory no
 * other user can write to (made 0700 when missing; a stale socket is replaced, a live one
 * is an error), and the TCP one when asked. */
int dst_listen(struct dst_ctx *d, struct dst_listeners *l, struct mig_err **err);

/* Closes them and removes the socket. */
void dst_unlisten(struct dst_ctx *d, struct dst_listeners *l);

/* Serves l until a stop is requested (or, with --once, one migration ended); closes it.
 * Returns the program's exit code. */
int dst_serve(struct dst_ctx *d, struct dst_listeners *l);

#endif
