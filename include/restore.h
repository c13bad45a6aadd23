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
 * serving work's socket), and checks that the container runs.  The CRIU configuration file
 * runc's CRIU reads is made here (rc's criu_config is not used): the operator's own
 * CRIU_CONFIG_FILE, the options of opts runc has no flag for (tcp-close) and, with runc
 * before 1.2 on cgroup v2, which does not tell CRIU the container's new cgroup, that cgroup
 * as "cgroup-root" (docs/notes-platform.md, "runc 1.1 on cgroup v2"), checked afterwards to
 * hold the container's init.  rc->version saves a `runc --version` there.  On failure
 * removes what the
 * failed restore left (runc state, mounts below it) so that a retry starts clean; a
 * cleanup that fails too is added to the error. */
int restore_container(const struct runc_ctx *rc, const char *name, const struct bundle_info *b,
		      const char *image, const char *work, int lazy, const struct criu_opts *opts,
		      struct mig_err **err);

/* The CRIU configuration file of a restore (criu.h, criu_config_write: under $TMPDIR, its
 * path into conf; "" when nothing is needed): the operator's own CRIU_CONFIG_FILE, then the
 * options of opts runc has no flag for (tcp-close), then "cgroup-root CGROUP_ROOT" unless
 * cgroup_root is NULL.  The caller unlinks it. */
int restore_criu_config(const struct criu_opts *opts, const char *cgroup_root, char *conf,
			size_t len, struct mig_err **err);

#endif
