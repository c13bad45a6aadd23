/* Internals shared by the technique modules (migrate.c, precopy.c, postcopy.c): the state
 * of one migration on the source.  Not for use outside them. */
#ifndef MIG_MIGRATE_INT_H
#define MIG_MIGRATE_INT_H

#include "auth.h"
#include "bundle.h"
#include "cli.h"
#include "conn.h"
#include "proc.h"
#include "report.h"
#include "runc.h"
#include "session.h"
#include "ssh.h"
#include "transfer.h"

#define CONTROL_TIMEOUT_MS 30000

struct mig {
	const struct src_opts *o;
	struct mig_report *r;
	struct runc_ctx runc;
	struct bundle_info b;
	int lock_fd;		 /* bundle_lock(), held for the whole migration; -1 before */
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
	long long t_start;
	/* post-copy */
	char page_server[96]; /* "ADDR:PORT" the page server listens on */
	char ps_addr[64];
	struct proc lazy; /* the lazy checkpoint, serving pages */
	int lazy_running;
};

static inline int mig_lazy(const struct mig *m)
{
	return m->o->technique == TECH_POSTCOPY || m->o->technique == TECH_HYBRID;
}

static inline int mig_precopy(const struct mig *m)
{
	return m->o->technique == TECH_PRECOPY || m->o->technique == TECH_HYBRID;
}

/* precopy.c: the pre-dump rounds, each sent while the container keeps running.  On failure
 * the container has been touched; *err says why. */
int precopy_rounds(struct mig *m, struct mig_err **err);

/* postcopy.c: picks the page server address (before the freeze). */
int postcopy_prepare(struct mig *m, struct mig_err **err);
/* Starts the lazy final dump and waits until its image is ready (the freeze). */
int postcopy_dump(struct mig *m, int *timed_out, struct mig_err **err);
/* After the destination runs the container: waits for its "lazy_done" message and for the
 * page server to exit, and reports. */
int postcopy_finish(struct mig *m, struct mig_err **err);
/* Stops the page server (after a failure). */
void postcopy_abort(struct mig *m);

#endif
