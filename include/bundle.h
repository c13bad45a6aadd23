/* OCI bundles and the directories a migration writes into them.
 *
 * A bundle is BASE/NAME with config.json and a rootfs.  The migration adds BUNDLE/image (the
 * checkpoint), BUNDLE/parent (pre-dumps) and BUNDLE/work (CRIU's restore work dir).  The
 * bundle is held open as a directory descriptor, and everything below it is reached from
 * that descriptor through fs.h: no path under a bundle is joined as a string and handed to
 * the kernel, except the ones runc, CRIU and rsync are given (bundle_path), which are
 * checked to be real directories first. */
#ifndef MIG_BUNDLE_H
#define MIG_BUNDLE_H

#include "err.h"

/* The directories the tools make and remove in a bundle: root.path may not be one of them
 * or below one (clearing "image" would empty the container's rootfs). */
#define BUNDLE_RESERVED                   \
	{                                 \
		"image", "parent", "work" \
	}

/* The container's network namespace as config.json says (linux.namespaces, type network). */
enum bundle_netns {
	NETNS_HOST = 0, /* no network namespace: the host's */
	NETNS_PRIVATE,	/* a new one, runc's (restored empty: lo down) */
	NETNS_NAMED,	/* joins one by path (/var/run/netns/NAME): checkpointed as external */
};

struct bundle_info {
	char *dir;	 /* BASE/NAME: for messages and for runc's, CRIU's, rsync's arguments */
	int fd;		 /* BASE/NAME opened without following a link at NAME; -1 when not */
	int terminal;	 /* process.terminal in config.json */
	char *root_path; /* root.path as written in config.json ("rootfs") */
	char *rootfs;	 /* absolute path of the rootfs */
	enum bundle_netns netns;
	char *netns_path;   /* NETNS_NAMED: its path */
	char *cgroups_path; /* linux.cgroupsPath as written, NULL when unset (cgroup.h) */
};

/* "host", "private", "named" (the protocol's names, as well as the messages'). */
const char *bundle_netns_name(enum bundle_netns n);
int bundle_netns_parse(const char *s, enum bundle_netns *n);

/* path is a network namespace (a file of nsfs, as `ip netns add` makes them). */
int bundle_netns_check(const char *path, struct mig_err **err);

/* Rewrites config.json's network namespace path to path (atomically: a new file beneath the
 * bundle, then a rename), when it names another one. */
int bundle_set_netns(struct bundle_info *b, const char *path, struct mig_err **err);

/* Opens BASE/NAME and reads its config.json (a regular file, not followed if a link).
 * Fails with a message naming the path when the bundle or its config is missing or
 * malformed, or when root.path is empty, ".", leaves the bundle ("..", or an absolute path
 * into it), or is one of BUNDLE_RESERVED or below one. */
int bundle_load(const char *base, const char *name, struct bundle_info *b, struct mig_err **err);

/* Opens BASE/NAME only (no config.json yet: --sync-bundle), creating it (0700) with
 * create.  Fails with errno ENOENT when it is missing and create is 0. */
int bundle_open(const char *base, const char *name, int create, struct bundle_info *b,
		struct mig_err **err);

void bundle_free(struct bundle_info *b);

/* The rootfs is a directory, is not the bundle itself, and is not inside image, parent or
 * work (also through a link elsewhere that leads back into them).  A rootfs that does not
 * exist yet passes when missing_ok. */
int bundle_check_rootfs(const struct bundle_info *b, int missing_ok, struct mig_err **err);

/* The rootfs opened as a directory (for walks: fs_tree_digest).  Relative: beneath the
 * bundle, no links; absolute (a shared rootfs): as the administrator set it up. */
int bundle_rootfs_fd(const struct bundle_info *b, struct mig_err **err);

/* One migration per container at a time on each host: an exclusive flock on
 * BUNDLE/.migrate.lock (created 0600, a regular file, not followed), holding the holder's
 * PID for messages.  Fails at once, naming the holder, when another process has it.
 * Returns the descriptor to keep open for as long as the lock is needed, or -1. */
int bundle_lock(const struct bundle_info *b, struct mig_err **err);

/* BUNDLE/sub as a path, malloc'ed: for runc, CRIU and rsync, which take paths. */
char *bundle_path(const struct bundle_info *b, const char *sub);

/* Removes BUNDLE/sub (image, parent, work) left by an earlier run: what runc and CRIU
 * mounted there is unmounted first, links are unlinked, not followed (fs_clear_at). */
int bundle_clear_dir(const struct bundle_info *b, const char *sub, struct mig_err **err);

/* Makes BUNDLE/sub (and what is missing on the way), 0700; what exists must be a real
 * directory. */
int bundle_make_dir(const struct bundle_info *b, const char *sub, struct mig_err **err);

/* BUNDLE/sub opened as a directory (not a link); its descriptor. */
int bundle_open_dir(const struct bundle_info *b, const char *sub, struct mig_err **err);

/* 1 when BUNDLE/sub is a real directory, 0 when it does not exist, -1 (with *err) when it
 * is something else (a link, a file). */
int bundle_has_dir(const struct bundle_info *b, const char *sub, struct mig_err **err);

/* Bytes of the regular files below BUNDLE/sub (0 when missing). */
long long bundle_tree_size(const struct bundle_info *b, const char *sub);

/* Detaches what runc and CRIU left mounted below BUNDLE/sub (a killed restore leaves
 * .criu.cgyard.* in the work dir). */
int bundle_unmount_leftovers(const struct bundle_info *b, const char *sub, struct mig_err **err);

#endif
