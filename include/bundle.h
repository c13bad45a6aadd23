/* OCI bundles and the directories a migration writes into them.
 *
 * A bundle is BASE/NAME with config.json and a rootfs.  The migration adds BUNDLE/image (the
 * checkpoint), BUNDLE/parent (pre-dumps) and BUNDLE/work (CRIU's restore work dir); the
 * file operations on them are fs.h's. */
#ifndef MIG_BUNDLE_H
#define MIG_BUNDLE_H

#include "err.h"

struct bundle_info {
	char *dir;	 /* BASE/NAME */
	int terminal;	 /* process.terminal in config.json */
	char *root_path; /* root.path as written in config.json ("rootfs") */
	char *rootfs;	 /* absolute path of the rootfs */
};

/* Reads BASE/NAME/config.json.  Fails with a message naming the path when the bundle or its
 * config is missing or malformed. */
int bundle_load(const char *base, const char *name, struct bundle_info *b, struct mig_err **err);
void bundle_free(struct bundle_info *b);

/* One migration per container at a time on each host: an exclusive flock on
 * BUNDLE/.migrate.lock (created 0600), holding the holder's PID for messages.  Fails at once,
 * naming the holder, when another process has it.  Returns the descriptor to keep open for
 * as long as the lock is needed (closing it, or exiting, releases it), or -1. */
int bundle_lock(const struct bundle_info *b, struct mig_err **err);

/* BUNDLE/sub, malloc'ed. */
char *bundle_path(const struct bundle_info *b, const char *sub);

/* Removes BUNDLE/sub (image, parent, work) left by an earlier run, unmounting what CRIU may
 * have left in it first (fs_clear_tree). */
int bundle_clear_dir(const struct bundle_info *b, const char *sub, struct mig_err **err);

#endif
