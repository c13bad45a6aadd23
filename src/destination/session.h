/* One connection's state on migrate-dst, shared by its handler (handler.h) and the
 * requests it answers (requests.h). */
#ifndef MIG_DST_SESSION_H
#define MIG_DST_SESSION_H

#include "auth.h"
#include "bundle.h"
#include "conn.h"
#include "lazy.h"
#include "pages.h"
#include "mig.h"
#include "report.h"
#include "stream.h"

/* Where a connection is; each request must fit it (requests.c, "allowed"), anything else is
 * refused and ends the connection.  One connection migrates one container. */
enum dst_state {
	ST_NEW,	      /* accepted: hello only */
	ST_HELLO,     /* hello answered: a check, or a doctor request */
	ST_CHECKED,   /* check of the session's container passed: files, the restore */
	ST_RECEIVING, /* its image is arriving as files: more of them, the restore */
	ST_RESTORED,  /* runc restored it: the commit */
	ST_DONE,      /* committed, discarded, or the restore failed: nothing more */
};

struct dst_session {
	struct mig_conn *conn; /* the connection ("file" messages carry bytes after them) */
	struct mig_report report;
	long long start_ms;
	enum dst_state state;
	char name[MIG_NAME_MAX + 1]; /* the container, from its first successful check */
	/* authentication */
	int keyed; /* hello derived the session keys: every message is MACed */
	struct auth_keys keys;
	long long preauth_deadline_ms; /* until a request proves the token */
	int auth_failed;	       /* the connection is closed after a failed authentication */
	int trusted; /* a request passed authentication (or auth is off and one came) */
	/* the restore's deadline (the source's, from its request): an uncommitted copy is
	 * removed once it and COMMIT_GRACE_MS have passed */
	long long restore_deadline_ms;
	/* the container this connection migrates */
	int lock_fd; /* bundle_lock() from check (or restore) to the end; -1 before */
	/* the bundle a successful check (or restore) opened; fd -1 before */
	struct bundle_info bundle;
	struct stream_rx rx;
	int restore_tried;
	long long restore_done_ms;
	int committed; /* the source confirmed the restore: the copy here is the only one */
	struct dst_pages pages; /* post-copy: the source's pages connection */
	int silence_ms;		/* the lazy phase's silence limit, from "pages" (timeouts.h 8.) */
	struct dst_lazy lazy;	/* post-copy: the criu lazy-pages daemon */
	int broken;		/* a protocol violation: answer and close */
};

#endif
