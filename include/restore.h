/* Restoring a checkpointed container with runc, the same way on both hosts: on the
 * destination after a migration, and on the source when a migration is rolled back. */
#ifndef MIG_RESTORE_H
#define MIG_RESTORE_H

#include "bundle.h"
#include "err.h"
#include "runc.h"

/* Restores name from BUNDLE/image into bundle b with CRIU work dir BUNDLE/work (image and
 * work are names in the bundle, "image" and "work"; work is created), serving the
 * console socket when the bundle's process.terminal is true (console log in
 * BUNDLE/console.log), with --lazy-pages when lazy (a criu lazy-pages daemon must be
 * serving work's socket), and checks that the container runs.  On failure removes what the
 * failed restore left (runc state, mounts below it) so that a retry starts clean; a
 * cleanup that fails too is added to the error. */
int restore_container(const struct runc_ctx *rc, const char *name, const struct bundle_info *b,
		      const char *image, const char *work, int lazy, const struct criu_opts *opts,
		      struct mig_err **err);

#endif
