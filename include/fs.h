/* The file-system module: every open, walk, removal and unmount the tools do under a bundle
 * (or a scratch directory of their own) goes through here, so that these rules hold
 * everywhere:
 *
 * - Paths under a bundle are resolved from a directory descriptor, never as strings:
 *   openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS where the
 *   kernel has it, else a component-by-component walk with O_NOFOLLOW.  No symbolic link is
 *   ever followed, and nothing resolves outside the directory it started from.
 * - Removal never follows a link (a link is unlinked itself) and never crosses into another
 *   mount: a runc state dir can hold a bind mount of a container's rootfs, and emptying it
 *   through that mount deletes the bundle's rootfs (docs/notes-platform.md, "The rootfs
 *   hazard").  Mounts are told apart by their mount ID (statx STATX_MNT_ID, or fdinfo's
 *   mnt_id before Linux 5.8), not by st_dev, which differs between the layers of an overlay
 *   for files that are not directories (docs/notes-platform.md, "Mount points are mount
 *   IDs, not st_dev").
 * - Unmounting touches only runc's and CRIU's own leftovers ("criu-root",
 *   ".criu.cgyard.*") found below the directory being cleaned; any other mount there makes
 *   the removal fail instead.
 *
 * Functions taking (dirfd, rel) resolve rel beneath dirfd: rel is relative, made of plain
 * components (no "..", no "."). */
#ifndef MIG_FS_H
#define MIG_FS_H

#include <stddef.h>

#include "err.h"

/* ---- opening ---- */

/* open() of rel beneath dirfd without following any symbolic link (flags get O_CLOEXEC;
 * mode is used with O_CREAT).  A link on the way fails with ELOOP ("a symbolic link"). */
int fs_open_at(int dirfd, const char *rel, int flags, unsigned mode, struct mig_err **err);

/* The directory name in base (base may be reached through links, as an administrator set it
 * up; name may not be a link).  Returns its descriptor. */
int fs_open_dir(const char *base, const char *name, struct mig_err **err);

/* mkdir -p of rel beneath dirfd (mode for what it creates): what exists must be a
 * directory, not a link to one. */
int fs_mkdir_at(int dirfd, const char *rel, unsigned mode, struct mig_err **err);

/* 1 when rel exists beneath dirfd (not following a last link), 0 when it does not, -1 on
 * another error. */
int fs_exists_at(int dirfd, const char *rel, struct mig_err **err);

/* 1 when the descriptor fd is the directory dir itself or below it (walking "..", which
 * follows no link), 0 when not. */
int fs_is_below(int fd, int dir);

/* ---- reading ---- */

/* The whole of a small regular file rel beneath dirfd (at most max bytes, else an error),
 * NUL-terminated.  A FIFO or device is refused without being opened for reading. */
char *fs_read_file_at(int dirfd, const char *rel, size_t max, struct mig_err **err);

/* The last lines of the regular file at path (at most max bytes, without a partial first
 * line and trailing white space), malloc'ed, or NULL when it is missing, empty or not a
 * regular file; the last component is not followed.  For quoting logs in errors. */
char *fs_read_tail(const char *path, size_t max);

/* ---- walking ---- */

/* Total size in bytes of the regular files below rel beneath dirfd (links not followed,
 * other mounts not entered); 0 when it does not exist. */
long long fs_tree_size_at(int dirfd, const char *rel);

/* A digest of the tree at fd (names, types, modes, owners, sizes, times, inodes, link
 * targets; not contents: a content change moves mtime/ctime; not directories' times or
 * sizes, which move with their entries), not entering other mounts.  Two equal digests mean
 * nothing changed in between, so a final rsync of a rootfs can be skipped.
 * Order-independent (directory order may differ between walks). */
int fs_tree_digest(int fd, unsigned char out[32], struct mig_err **err);

/* ---- removing ---- */

/* Detaches the mounts runc and CRIU leave ("criu-root", ".criu.cgyard.*") below the
 * directory name in dirfd; other mounts are left alone.  A missing name is not an error. */
int fs_unmount_leftovers_at(int dirfd, const char *name, struct mig_err **err);

/* fs_unmount_leftovers_at, then removes name and everything below it without following
 * links or crossing into another mount.  A missing name is not an error; a link named name
 * is unlinked itself. */
int fs_clear_at(int dirfd, const char *name, struct mig_err **err);

/* fs_clear_at for a path of our own (a scratch directory we made): its parent is opened
 * as it is, its last component is not followed.  "/" is refused. */
int fs_clear_path(const char *path, struct mig_err **err);

/* ---- paths outside bundles (the token's directory, sockets) ---- */

/* mkdir -p with mode for the last component, for trusted paths (a configured directory). */
int fs_mkdir_p(const char *dir, unsigned mode, struct mig_err **err);

/* The path exists (not following a last symlink). */
int fs_exists(const char *path);

#endif
