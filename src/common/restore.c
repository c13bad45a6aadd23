#include "restore.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "console.h"
#include "fs.h"
#include "log.h"
#include "timeouts.h"

static int take_console(struct console_sock *cs, const char *name, const struct bundle_info *b,
			struct mig_err **err)
{
	int log = fs_open_at(b->fd, "console.log", O_WRONLY | O_CREAT | O_APPEND, 0600, err);
	if (log < 0)
		return mig_err_wrap(err, "console log in %s", b->dir);
	pid_t keeper;
	int r = console_take(cs, CONSOLE_TAKE_MS, log, &keeper, err);
	close(log);
	if (r == 0)
		log_info("console of %s: kept by PID %d, logged to %s/console.log", name,
			 (int)keeper, b->dir);
	return r;
}

/* The image is a real directory of the bundle and the work dir is made: runc and CRIU are
 * given their paths. */
static int prepare_dirs(const struct bundle_info *b, const char *image, const char *work,
			struct mig_err **err)
{
	int has = bundle_has_dir(b, image, err);
	if (has < 0)
		return -1;
	if (!has)
		return mig_err_set(err, 0, "no checkpoint image at %s/%s", b->dir, image);
	return bundle_make_dir(b, work, err);
}

/* After a failed restore: the container first (a copy runc left running must not outlive
 * the failure), then CRIU's .criu.cgyard.* mounts a killed restore leaves in the work dir.
 * What fails here is added to err, the restore's own error. */
static void clean_up_failed(const struct runc_ctx *rc, const char *name,
			    const struct bundle_info *b, const char *work, struct mig_err **err)
{
	struct mig_err *e2 = NULL, *e3 = NULL;
	runc_remove_own(rc, name, b->fd, b->dir, &e2);
	bundle_unmount_leftovers(b, work, &e3);
	if (e2)
		mig_err_append(err, "cleaning up after it failed too: %s", mig_err_msg(e2));
	if (e3)
		mig_err_append(err, "cleaning up after it failed too: %s", mig_err_msg(e3));
	mig_err_free(&e2);
	mig_err_free(&e3);
}

int restore_container(const struct runc_ctx *rc, const char *name, const struct bundle_info *b,
		      const char *image, const char *work, int lazy, const struct criu_opts *opts,
		      struct mig_err **err)
{
	struct console_sock cs = {.fd = -1};
	if (prepare_dirs(b, image, work, err) < 0)
		return -1;
	if (b->terminal && console_listen(&cs, err) < 0)
		return -1;
	char *image_path = bundle_path(b, image), *work_path = bundle_path(b, work);
	struct runc_restore rr = {.bundle = b->dir,
				  .image_path = image_path,
				  .work_path = work_path,
				  .console_socket = b->terminal ? cs.path : NULL,
				  .lazy = lazy,
				  .opts = opts};
	int r = runc_restore(rc, name, &rr, err);
	free(image_path);
	free(work_path);
	/* runc has restored it: a console that did not come over is a loss to report, not a
	 * reason to remove the container (that would lose it). */
	if (r == 0 && b->terminal) {
		struct mig_err *ce = NULL;
		if (take_console(&cs, name, b, &ce) < 0)
			log_warn("%s runs, but its console was lost: %s", name, mig_err_msg(ce));
		mig_err_free(&ce);
	}
	enum runc_status st = RUNC_UNKNOWN;
	if (r == 0 && (r = runc_state(rc, name, &st, err)) == 0 && st != RUNC_RUNNING)
		r = mig_err_set(err, 0, "restored container is %s, not running",
				runc_status_name(st));
	console_close(&cs);
	if (r < 0)
		clean_up_failed(rc, name, b, work, err);
	return r;
}
