/* Internals shared by migrate-dst's modules: dst.c (requests of one connection),
 * dst_lazy.c (the criu lazy-pages daemon of post-copy) and dst_server.c (listening, one
 * forked handler per connection).  Not for use outside them. */
#ifndef MIG_DST_INT_H
#define MIG_DST_INT_H

#include "bundle.h"
#include "conn.h"
#include "dst.h"

/* 1 once SIGTERM/SIGINT asked the server (or a handler) to stop. */
int dst_stopping(void);

/* Stops and removes the restored container (see dst.c); adds what was done to *e. */
void dst_discard_copy(struct dst_ctx *d, struct dst_session *s, const char *what,
		      struct mig_err **e);

/* Starts `criu lazy-pages` for a lazy restore (the page server the request names) and
 * waits for its socket in BUNDLE/work. */
int dst_lazy_start(struct dst_ctx *d, struct dst_session *s, const cJSON *req,
		   const struct bundle_info *b, struct mig_err **err);
/* Ends the daemon, if it runs. */
void dst_lazy_stop(struct dst_session *s);
/* After a lazy restore's reply and commit: waits for the daemon to fetch every page, tells
 * the source ("lazy_done"), and discards the copy when pages are missing. */
void dst_lazy_finish(struct dst_ctx *d, struct dst_session *s, struct mig_conn *c);

#endif
