/* The state of one migration on the source, and the steps the technique files share:
 * migrate.c (the outline), preflight.c (nothing touched yet), precopy.c (the rounds),
 * freeze.c (the final dump, the transfer, the restore request, the commit), postcopy.c
 * (the lazy dump and its page server), rollback.c (what a failure after the checkpoint
 * does).  Not for use outside them. */
#ifndef MIG_TECHNIQUE_H
#define MIG_TECHNIQUE_H

#include <limits.h>

#include "bundle.h"
#include "pageserver.h"
#include "plan.h"
#include "proc.h"
#include "report.h"
#include "runc.h"
#include "session.h"
#include "transfer.h"
#include "tunnel.h"

struct migration {
	const struct plan *p;
	struct mig_report *r;
	struct bundle_info b;
	int lock_fd;		 /* bundle_lock(), held for the whole migration; -1 before */
	int init_pid;		 /* the container's init here (preflight), 0 before */
	char *image;		 /* BUNDLE/image on the source */
	char *parent;		 /* BUNDLE/parent: pre-dump rounds in parent/1, parent/2, ... */
	char parent_rel[32];	 /* the last round, relative to image ("../parent/N"), or "" */
	struct ctl_session sess; /* SSH, control channel, token (session.h) */
	struct xfer_ctx xfer;
	struct xfer_master master;	 /* the SSH connection every rsync reuses */
	char *dst_bundle;		 /* the bundle's path on the destination */
	unsigned char rootfs_digest[32]; /* fs_tree_digest before the first pass */
	int have_digest;
	int send_bundle; /* --sync-bundle, and the destination has no bundle */
	/* the dumps' runc: the plan's, with the CRIU configuration file for the options runc
	 * has no flag for (criu.h), when there are any */
	struct runc_ctx dump_runc;
	char criu_config[PATH_MAX]; /* that file, "" when none; unlinked at the end */
	/* post-copy */
	char *page_server;		  /* "127.0.0.1:PORT", where the page server listens */
	struct ps_watch ps_watch;	  /* the lazy-pages daemon's requests (pageserver.h) */
	struct tunnel_watch tunnel_watch; /* ps_watch, for the tunnel */
	int silence_ms;			  /* the lazy phase's silence limit (timeouts.h, 8.) */
	struct proc lazy;		  /* the lazy checkpoint, serving pages */
	int lazy_running;
};

static inline int mig_lazy(const struct migration *m)
{
	return technique_lazy(m->p->how.technique);
}

static inline int mig_precopy(const struct migration *m)
{
	return technique_precopy(m->p->how.technique);
}

/* Fails with "interrupted" when a stop was requested (stop.h). */
int check_stop(struct mig_err **err);

/* preflight.c: everything before anything is touched (failure: exit 2). */
int preflight(struct migration *m, struct mig_err **err);
/* Adds the CRIU options and the network namespace to a check or restore request. */
void add_container_facts(const struct migration *m, cJSON *req);
/* The rootfs's digest (fs_tree_digest): equal ones mean no rsync is needed. */
int rootfs_digest(const struct migration *m, unsigned char out[32], struct mig_err **err);
/* What rsync sends of the bundle: the rootfs (unless shared) and the image dir; srcs has
 * room for one more. */
size_t xfer_sources(const struct migration *m, const char *srcs[3]);

/* precopy.c: the pre-dump rounds, each sent while the container keeps running.  On failure
 * the container has been touched; *err says why. */
int precopy_rounds(struct migration *m, struct mig_err **err);

/* freeze.c: the final dump, the transfer, the restore request and the commit.  Returns the
 * exit code, the report filled. */
int freeze_and_move(struct migration *m);

/* postcopy.c: picks the page server address (before the freeze). */
int postcopy_prepare(struct migration *m, struct mig_err **err);
/* Starts the lazy final dump and waits until its image is ready (the freeze). */
int postcopy_dump(struct migration *m, int *timed_out, struct mig_err **err);
/* After the destination runs the container: waits for its "lazy_done" message (pinging it)
 * and for the page server to exit, and reports.  -1: the pages did not all arrive and the
 * container runs here again (lazy_failed); -2: the outcome is not known (unknown_outcome). */
int postcopy_finish(struct migration *m, struct mig_err **err);
/* Stops the page server (after a failure). */
void postcopy_abort(struct migration *m);

/* rollback.c: the outcomes of a failure.  Each takes *cause over (err.h), fills the report
 * and returns the exit code. */
/* A dump (pre-dump or final) failed or hung: make sure the container runs again. */
int dump_failed(struct migration *m, struct mig_err **cause, int timed_out, const char *what);
/* A failure after the checkpoint, the destination running nothing: restore it here. */
int rollback(struct migration *m, struct mig_err **cause);
/* The destination may or may not run the container: only a person can tell. */
int unknown_outcome(struct migration *m, struct mig_err **cause);
/* Post-copy: the pages did not all reach the destination after its restore. */
int lazy_failed(struct migration *m, struct mig_err **cause);
/* Post-copy with an unknown outcome: the page server is left to finish (the destination
 * may have committed and still fetch pages: killing it would make that copy fail) and what
 * it did is added to *cause.  When the pages stop without the daemon's goodbye, CRIU is let
 * resume the container here only after safe_at (the destination's bound for a copy it may
 * hold) and the lazy phase's silence limit (timeouts.h, 8.). */
void postcopy_let_finish(struct migration *m, long long safe_at, struct mig_err **cause);
/* Resets the control channel and the SSH connection: the destination stops its restore
 * when it sees that, and no request of ours can reach it afterwards. */
void hang_up(struct migration *m);
/* Waits (not cut short by signals) until safe_at, when the destination's bound for a copy
 * it may have made has passed (timeouts.h, 2.). */
void wait_until_safe(struct migration *m, long long safe_at);

#endif
