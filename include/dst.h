/* migrate-dst: the destination's control server.
 *
 * The parent accepts connections and forks one handler per connection (as sshd does), so a
 * slow or hostile peer cannot stall a migration in progress and a crash in a handler loses
 * one connection, not the daemon.  A handler answers requests until the peer closes:
 *   hello   -> ok, v, base_dir, runc_version, criu_version, version
 *   check   -> the bundle exists here and runc knows no container of that name; stale
 *              image/work dirs of that bundle are removed
 *   restore -> runc restore -d from BUNDLE/image; replies once the container runs
 *   doctor  -> this host's facts for migrate-src --check (facts.h); changes nothing */
#ifndef MIG_DST_H
#define MIG_DST_H

#include <cjson/cJSON.h>

#include "auth.h"
#include "cli.h"
#include "conn.h"
#include "proc.h"
#include "report.h"
#include "stream.h"
#include "runc.h"

/* A handler's exit status tells the parent what happened (for --once). */
enum dst_conn_result { DST_NO_MIGRATION = 0, DST_MIGRATED = 10, DST_FAILED = 11 };

struct dst_ctx {
	const struct dst_opts *o;
	struct runc_ctx runc;
	char *base_dir; /* absolute */
	char *runc_version;
	char *criu_version;
	int auth_on;
	char token[AUTH_HEX];
};

/* What one connection did, for its report. */
struct dst_session {
	struct mig_report report;
	int restore_tried;
	long long start_ms;
	long long restore_done_ms;
	struct proc lazy; /* post-copy: the criu lazy-pages daemon */
	int lazy_running;
	char *lazy_log;
	char *image;	      /* the image dir of a successful restore, sized for the report */
	char nonce[AUTH_HEX]; /* from hello; "" before it */
	unsigned long next_seq;
	int auth_failed;       /* the connection is closed after a failed authentication */
	int lock_fd;	       /* bundle_lock() of the container, from check (or restore) to the
				* end of the connection; -1 before */
	int trusted;	       /* a request passed authentication (or auth is off and one came) */
	int committed;	       /* the source confirmed the restore ("commit"): the copy here is
				* the only one from now on */
	struct mig_conn *conn; /* the connection ("file" messages carry bytes after them) */
	char *checked_dir;     /* the bundle dir a successful check prepared, or NULL */
	struct stream_rx rx;   /* the image streamed through this connection */
	int broken;	       /* a protocol violation: answer and close */
};

int dst_ctx_init(struct dst_ctx *d, const struct dst_opts *o, struct mig_err **err);
void dst_ctx_free(struct dst_ctx *d);

/* Answers one request (errors become {"ok":false,"error":...}); NULL for a "file" message
 * taken in without a reply (stream.h). */
cJSON *dst_handle_request(struct dst_ctx *d, struct dst_session *s, cJSON *req);

/* Serves one connection until the peer closes or errs; returns an enum dst_conn_result. */
int dst_handle_conn(struct dst_ctx *d, struct mig_conn *c);

/* Listens and serves until SIGTERM/SIGINT (or, with --once, one migration).  Returns the
 * program's exit code. */
int dst_serve(struct dst_ctx *d);

#endif
