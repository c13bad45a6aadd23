/* migrate-dst: what every handler shares (the configuration, the runc context, the base
 * dir, the token, the tools' versions), made once by the main before the server starts.
 *
 * The server (server.h) forks one handler per connection (handler.h), which answers the
 * requests of that connection (requests.h):
 *   hello   -> ok, auth, nonce, base_dir, runc_version, criu_version, version (MACed)
 *   check   -> the bundle exists here, is locked for this connection, and runc knows no
 *              container of that name (or --replace removed it); stale image/parent/work
 *              dirs of that bundle are removed (target.h)
 *   file    -> a streamed image file (stream.h), no reply
 *   restore -> runc restore -d from BUNDLE/image (lazy.h for post-copy); replies once the
 *              container runs
 *   commit  -> the source confirms the restore; without it the copy is removed
 *   doctor  -> this host's facts for migrate-src --check (facts.h); changes nothing */
#ifndef MIG_DST_H
#define MIG_DST_H

#include "auth.h"
#include "config.h"
#include "err.h"
#include "runc.h"

struct dst_ctx {
	const struct dst_config *cfg;
	struct runc_ctx runc;
	char *base_dir; /* absolute: it is reported to the source */
	char *runc_version;
	char *runc_error; /* why runc_version is NULL */
	char *criu_version;
	char *criu_error;
	int auth_on;
	char token[AUTH_HEX];
	/* in a handler: when its connection was accepted, and where it tells the server that
	 * a request proved the token (server.c); -1 outside handlers */
	long long accepted_ms;
	int authed_fd;
};

/* A handler's first authenticated request: the server stops counting it among the
 * unauthenticated connections it may evict. */
void dst_authenticated(struct dst_ctx *d);

/* Fails when the base dir or the token cannot be had; a version that cannot be found is
 * only left NULL, with the reason in *_error (the main prints it as a warning). */
int dst_ctx_init(struct dst_ctx *d, const struct dst_config *cfg, struct mig_err **err);
void dst_ctx_free(struct dst_ctx *d);

#endif
