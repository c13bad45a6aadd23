/* The file-system module: every walk, removal, unmount and whole-file read the tools do
 * under a bundle or a scratch directory goes through here, so that the rules below hold
 * everywhere (and are hardened in one place).
 *
 * - Removal never crosses into another filesystem or a mount point: a runc state dir can
 *   hold a bind mount of a container's rootfs (docs/notes-platform.md, "the rootfs
 *   hazard"), and emptying it through that mount deletes the bundle's rootfs.
 * - Walks do not follow symbolic links and stay on the starting filesystem. */
#ifndef MIG_FS_H
#define MIG_FS_H

#include <stddef.h>

#include "err.h"

/* Total size in bytes of the regular files under dir (not following links, not crossing
 * into other filesystems); 0 when dir does not exist. */
long long fs_tree_size(const char *dir);

/* A digest of the tree at dir (names, types, modes, owners, sizes, times, inodes, link
 * targets; not contents: a content change moves mtime/ctime; not directories' times or
 * sizes, which move with their entries), not crossing into other filesystems.  Two equal
 * digests mean nothing changed in between, so a final rsync of a rootfs can be skipped.
 * Order-independent (directory order may differ between walks). */
int fs_tree_digest(const char *dir, unsigned char out[32], struct mig_err **err);

/* Removes dir and everything below it, refusing to cross into another filesystem or into
 * a mount point (checked against /proc/self/mountinfo).  A missing dir is not an error. */
int fs_remove_tree(const char *dir, struct mig_err **err);

/* Unmounts every mount point at or below dir (deepest first, lazily if busy).  Used
 * before removing runc state or CRIU work dirs (criu-root, .criu.cgyard.*:
 * docs/notes-platform.md). */
int fs_unmount_below(const char *dir, struct mig_err **err);

/* fs_unmount_below, then fs_remove_tree: what an earlier run left in dir is gone. */
int fs_clear_tree(const char *dir, struct mig_err **err);

/* mkdir -p with mode for the last component. */
int fs_mkdir_p(const char *dir, unsigned mode, struct mig_err **err);

/* The path exists (not following a last symlink). */
int fs_exists(const char *path);

/* The whole of a small text file (at most max bytes, else an error), NUL-terminated. */
char *fs_read_file(const char *path, size_t max, struct mig_err **err);

/* The last lines of a text file (at most max bytes, without a partial first line and
 * trailing white space), malloc'ed, or NULL when it is missing or empty. */
char *fs_read_tail(const char *path, size_t max);

#endif
