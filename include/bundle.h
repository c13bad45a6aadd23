/* OCI bundles and the directories a migration writes into them, handled safely.
 *
 * A bundle is BASE/NAME with config.json and a rootfs.  The migration adds BUNDLE/image (the
 * checkpoint), BUNDLE/parent (pre-dumps) and BUNDLE/work (CRIU's restore work dir). */
#ifndef MIG_BUNDLE_H
#define MIG_BUNDLE_H

#include <stddef.h>

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

/* Total size in bytes of the regular files under dir (not following links, not crossing
 * into other filesystems); 0 when dir does not exist. */
long long fs_tree_size(const char *dir);

/* A digest of the tree at dir (names, types, modes, owners, sizes, times, inodes, link
 * targets; not contents: a content change moves mtime/ctime; not directories' times or
 * sizes, which move with their entries), not crossing into other filesystems.  Two equal digests
 * mean nothing changed in between, so a final rsync of a rootfs can be skipped.  Order-independent
 * (directory order may differ between walks). */
int fs_tree_digest(const char *dir, unsigned char out[32], struct mig_err **err);

/* Removes dir and everything below it, refusing to cross into another filesystem or into a
 * mount point (checked against /proc/self/mountinfo), so that a forgotten bind mount of a
 * rootfs can never be emptied through it.  A missing dir is not an error. */
int fs_remove_tree(const char *dir, struct mig_err **err);

/* Unmounts every mount point at or below dir (deepest first, lazily if busy).  Used before
 * removing runc state or CRIU work dirs (../shared/PLATFORM.md: criu-root, .criu.cgyard.*). */
int fs_unmount_below(const char *dir, struct mig_err **err);

/* mkdir -p with mode for the last component. */
int fs_mkdir_p(const char *dir, unsigned mode, struct mig_err **err);

int fs_exists(const char *path);

/* The last lines of a text file (at most max bytes), for quoting CRIU logs in errors.
 * Returns a malloc'ed string with newlines turned into " | ", or NULL. */
char *fs_tail(const char *path, size_t max);

#endif
