#include "restore.h"

#include <stdlib.h>

#include "console.h"
#include "fs.h"
#include "log.h"
#include "timeouts.h"

static int take_console(struct console_sock *cs, const char *name, const struct bundle_info *b,
			struct mig_err **err)
{
	char *log_path = bundle_path(b, "console.log");
	pid_t keeper;
	int r = console_take(cs, CONSOLE_TAKE_MS, log_path, &keeper, err);
	if (r == 0)
		log_info("console of %s: kept by PID %d, logged to %s", name, (int)keeper,
			 log_path);
	free(log_path);
	return r;
}

int restore_container(const struct runc_ctx *rc, const char *name, const struct bundle_info *b,
		      const char *image, const char *work, int lazy, struct mig_err **err)
{
	struct console_sock cs = {.fd = -1};
	if (!fs_exists(image))
		return mig_err_set(err, 0, "no checkpoint image at %s", image);
	if (fs_mkdir_p(work, 0700, err) < 0)
		return -1;
	if (b->terminal && console_listen(&cs, err) < 0)
		return -1;
	struct runc_restore rr = {.bundle = b->dir,
				  .image_path = image,
				  .work_path = work,
				  .console_socket = b->terminal ? cs.path : NULL,
				  .lazy = lazy};
	int r = runc_restore(rc, name, &rr, err);
	if (r == 0 && b->terminal)
		r = take_console(&cs, name, b, err);
	enum runc_status st = RUNC_UNKNOWN;
	if (r == 0 && (r = runc_state(rc, name, &st, err)) == 0 && st != RUNC_RUNNING)
		r = mig_err_set(err, 0, "restored container is %s, not running",
				runc_status_name(st));
	console_close(&cs);
	if (r < 0) {
		struct mig_err *e2 = NULL;
		/* A killed restore leaves CRIU's .criu.cgyard.* mounts in the work dir. */
		if (fs_unmount_below(work, &e2) < 0 || runc_remove_leftover(rc, name, &e2) < 0) {
			mig_err_append(err, "cleaning up after it failed too: %s", mig_err_msg(e2));
			mig_err_free(&e2);
		}
	}
	return r;
}
