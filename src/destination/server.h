/* migrate-dst's server: listens, forks one handler per connection (handler.h; at most 16,
 * more get a "busy" reply), reaps them, and stops on SIGTERM/SIGINT (stop.h), giving its
 * handlers HANDLER_STOP_GRACE_MS.  Forking, as sshd does: a slow or hostile peer cannot
 * stall a migration in progress, and a crash loses one connection, not the server. */
#ifndef MIG_DST_SERVER_H
#define MIG_DST_SERVER_H

#include <stddef.h>

#include "dst.h"
#include "err.h"

/* Opens the listening socket of d's configuration; its address ("127.0.0.1:18863") goes
 * into shown.  Returns the socket. */
int dst_listen(struct dst_ctx *d, char *shown, size_t shown_len, struct mig_err **err);

/* Serves lfd until a stop is requested (or, with --once, one migration ended); closes it.
 * Returns the program's exit code. */
int dst_serve(struct dst_ctx *d, int lfd);

#endif
