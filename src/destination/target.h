/* migrate-dst: the container a connection migrates into, on this host: its bundle (there,
 * locked for this connection), runc's view of its name, the directories an earlier run
 * left, and removing a copy that must not stay. */
#ifndef MIG_DST_TARGET_H
#define MIG_DST_TARGET_H

#include <cjson/cJSON.h>

#include "bundle.h"
#include "dst.h"
#include "err.h"

/* The bundle BASE/NAME exists here, is ours to migrate into (its lock taken into *lock_fd
 * unless held already), and runc knows no container of that name; with replace, one that
 * exists is stopped and removed first.  Fills b. */
int target_check(struct dst_ctx *d, const char *name, int replace, int *lock_fd,
		 struct bundle_info *b, struct mig_err **err);

/* --sync-bundle and no bundle here: makes BASE/NAME (0700), opened into b and locked, for
 * the source to send config.json and rootfs into.  1 when it did, 0 when a bundle is here
 * (b not kept), -1 on error. */
int target_prepare_new(struct dst_ctx *d, const char *name, int *lock_fd, struct bundle_info *b,
		       struct mig_err **err);

/* The network namespace the request says the container has on the source ("netns": host,
 * private, named; none from an older source) against this bundle's, with "dst_netns" (the
 * source's --dst-netns) standing for the bundle's path: the kinds must match, and a named
 * namespace must exist here.  *path: the namespace the restore must use (NULL: the
 * bundle's own, or none). */
int target_check_netns(const struct bundle_info *b, const cJSON *req, const char **path,
		       struct mig_err **err);

/* Removes what an earlier migration of this container left in its bundle: image, parent
 * and work (a fresh start). */
int target_clear(const struct bundle_info *b, struct mig_err **err);

/* Stops and removes the container name that was restored here (a lazy restore whose pages
 * did not all arrive, or one the source never confirmed); says what was done in *e. */
void target_discard(struct dst_ctx *d, const struct bundle_info *b, const char *name,
		    const char *what, struct mig_err **e);

#endif
