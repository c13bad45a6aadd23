/* migrate-dst: the container a connection migrates into (target.h). */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fs.h"
#include "proto.h"
#include "text.h"
#include "log.h"
#include "runc.h"

/* One migration per container on this host: a second source is refused at its check.  A
 * connection holds one lock: a second container's check on it would run unlocked, beside
 * another source's migration of that container. */
static int lock_target(const struct bundle_info *b, int *lock_fd, struct mig_err **err)
{
	if (*lock_fd >= 0) {
		struct stat held, here;
		if (fstat(*lock_fd, &held) == 0 &&
		    fstatat(b->fd, ".migrate.lock", &here, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_dev == here.st_dev && held.st_ino == here.st_ino)
			return 0;
		return mig_err_set(err, 0,
				   "this connection already migrates another container: one "
				   "container per connection");
	}
	*lock_fd = bundle_lock(b, err);
	return *lock_fd < 0 ? -1 : 0;
}

/* A same-named container here, which the source asked us to remove (--replace): the
 * experiment loops' "kill, delete, rm -rf" before every run.  Only one made from this
 * bundle: a peer's request never removes a container some other bundle runs. */
static int replace_existing(struct dst_ctx *d, const char *name, const struct bundle_info *b,
			    enum runc_status st, struct mig_err **err)
{
	log_info("--replace: removing the %s container %s", runc_status_name(st), name);
	if (runc_remove_own(&d->runc, name, b->fd, b->dir, err) < 0)
		return mig_err_wrap(err, "removing the existing %s for --replace", name);
	enum runc_status now;
	if (runc_state(&d->runc, name, &now, err) < 0)
		return -1;
	if (now != RUNC_ABSENT)
		return mig_err_set(err, 0, "the existing %s is still %s after removing it", name,
				   runc_status_name(now));
	return 0;
}

static int load_bundle(struct dst_ctx *d, const char *name, struct bundle_info *b,
		       struct mig_err **err)
{
	if (bundle_load(d->base_dir, name, b, err) == 0)
		return 0;
	if ((*err)->errno_val == ENOENT) {
		mig_err_free(err);
		mig_err_set(err, 0,
			    "no bundle directory %s/%s (copy the bundle there, see "
			    "docs/bundles.md, or use --sync-bundle)",
			    d->base_dir, name);
	}
	return -1;
}

int target_check(struct dst_ctx *d, const char *name, int replace, int *lock_fd,
		 struct bundle_info *b, struct mig_err **err)
{
	if (load_bundle(d, name, b, err) < 0)
		return mig_err_wrap(err, "destination");
	enum runc_status st;
	/* Missing is fine before the first rootfs pass; inside image/parent/work is not. */
	int r = bundle_check_rootfs(b, 1, err);
	if (r == 0)
		r = lock_target(b, lock_fd, err);
	if (r == 0)
		r = runc_state(&d->runc, name, &st, err);
	if (r == 0 && st != RUNC_ABSENT && replace)
		r = replace_existing(d, name, b, st, err);
	else if (r == 0 && st != RUNC_ABSENT)
		r = mig_err_set(err, 0,
				"a container named %s already exists on the destination (%s); "
				"remove it there first (runc%s%s delete -f %s), or use --replace",
				name, runc_status_name(st), d->runc.root ? " --root " : "",
				d->runc.root ? d->runc.root : "", name);
	if (r < 0) {
		bundle_free(b);
		return mig_err_wrap(err, "destination");
	}
	return 0;
}

int target_prepare_new(struct dst_ctx *d, const char *name, int *lock_fd, struct bundle_info *b,
		       struct mig_err **err)
{
	if (bundle_open(d->base_dir, name, 1, b, err) < 0) {
		bundle_free(b); /* bundle_open keeps b->dir for the message */
		return mig_err_wrap(err, "destination");
	}
	int has = fs_exists_at(b->fd, "config.json", err);
	int r = has < 0 ? -1 : 0;
	enum runc_status st;
	if (has == 0) {
		r = lock_target(b, lock_fd, err);
		if (r == 0)
			r = runc_state(&d->runc, name, &st, err);
		if (r == 0 && st != RUNC_ABSENT)
			r = mig_err_set(err, 0, "%s has no bundle here but runc knows it (%s)",
					name, runc_status_name(st));
		if (r == 0) {
			log_info("--sync-bundle: %s has no bundle here; the source sends it to %s",
				 name, b->dir);
			r = 1;
		}
	}
	if (r <= 0)
		bundle_free(b);
	return r < 0 ? mig_err_wrap(err, "destination") : r;
}

int target_check_netns(const struct bundle_info *b, const cJSON *req, const char **path,
		       struct mig_err **err)
{
	*path = NULL;
	const char *src = proto_get_str(req, "netns", 0, NULL);
	const char *dst = proto_get_str(req, "dst_netns", 0, NULL);
	enum bundle_netns src_kind = NETNS_HOST;
	if (src && bundle_netns_parse(src, &src_kind) < 0)
		return mig_err_set(err, 0, "unknown netns kind '%.20s'", src);
	if (dst && !text_valid_abs_path(dst))
		return mig_err_set(err, 0, "dst_netns is not a plain absolute path");
	if (dst && b->netns != NETNS_NAMED)
		return mig_err_set(err, 0,
				   "--dst-netns %s: the destination's bundle %s joins no network "
				   "namespace by path (its network namespace is %s)",
				   dst, b->dir, bundle_netns_name(b->netns));
	if (src && src_kind != b->netns)
		return mig_err_set(
		    err, 0,
		    "the container's network namespace is %s on the source but %s in "
		    "the destination's bundle %s: CRIU cannot restore one as the "
		    "other (docs/networking.md)",
		    src, bundle_netns_name(b->netns), b->dir);
	if (b->netns != NETNS_NAMED)
		return 0;
	const char *want = dst ? dst : b->netns_path;
	if (bundle_netns_check(want, err) < 0)
		return mig_err_wrap(err, "destination: the container's network namespace");
	*path = dst;
	return 0;
}

int target_clear(const struct bundle_info *b, struct mig_err **err)
{
	static const char *const dirs[] = {"image", "parent", "work"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (bundle_clear_dir(b, dirs[i], err) < 0)
			return -1;
	return 0;
}

void target_discard(struct dst_ctx *d, const struct bundle_info *b, const char *name,
		    const char *what, struct mig_err **e)
{
	struct mig_err *e2 = NULL;
	if (runc_remove_own(&d->runc, name, b->fd, b->dir, &e2) == 0)
		mig_err_wrap(e, "the destination removed its %s of %s", what, name);
	else
		mig_err_wrap(
		    e, "REMOVING the %s of %s on the destination FAILED (%s): stop it by hand",
		    what, name, mig_err_msg(e2));
	mig_err_free(&e2);
}
