/* migrate-dst: one connection, served by its own forked process (server.h).  It reads
 * framed requests, has requests.h answer them, and after a successful restore waits for
 * the source's commit (timeouts.h, 2.) and, for post-copy, for the last page.  It ends the
 * life of every error of its connection: it sends it to the peer and logs it (err.h). */
#ifndef MIG_DST_HANDLER_H
#define MIG_DST_HANDLER_H

#include "conn.h"
#include "dst.h"

/* A handler's exit status tells the server what happened (for --once). */
enum dst_conn_result { DST_NO_MIGRATION = 0, DST_MIGRATED = 10, DST_FAILED = 11 };

/* Serves c until the peer closes, errs or the migration is over; prints the report of a
 * connection that tried a restore.  Returns an enum dst_conn_result. */
int dst_handle_conn(struct dst_ctx *d, struct mig_conn *c);

#endif
