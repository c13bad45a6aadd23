/* One connection's state on migrate-dst, shared by its handler (handler.h) and the
 * requests it answers (requests.h). */
#ifndef MIG_DST_SESSION_H
#define MIG_DST_SESSION_H

#include "auth.h"
#include "bundle.h"
#include "conn.h"
#include "lazy.h"
#include "report.h"
#include "stream.h"

struct dst_session {
	struct mig_conn *conn; /* the connection ("file" messages carry bytes after them) */
	struct mig_report report;
	long long start_ms;
	/* authentication */
	char nonce[AUTH_HEX]; /* from hello; "" before it */
	unsigned long next_seq;
	int auth_failed; /* the connection is closed after a failed authentication */
	int trusted;	 /* a request passed authentication (or auth is off and one came) */
	/* the container this connection migrates */
	int lock_fd; /* bundle_lock() from check (or restore) to the end; -1 before */
	/* the bundle a successful check (or restore) opened; fd -1 before */
	struct bundle_info bundle;
	struct stream_rx rx;
	int restore_tried;
	long long restore_done_ms;
	int committed;	      /* the source confirmed the restore: the copy here is the only one */
	struct dst_lazy lazy; /* post-copy: the criu lazy-pages daemon */
	int broken;	      /* a protocol violation: answer and close */
};

#endif
