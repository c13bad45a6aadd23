#include "restore.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "console.h"
#include "criu.h"
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

/* With runc < 1.2 on cgroup v2 (cgroup.h, cgroup_runc_needs_root): the cgroup runc gives
 * the restored container, which it does not tell CRIU, into *want; else *want is NULL. */
static int cgroup_root(const struct runc_ctx *rc, const char *name, const struct bundle_info *b,
		       char **want, struct mig_err **err)
{
	*want = NULL;
	if (cgroup_v2() != 1)
		return 0; /* v1 (or hybrid): runc sends CRIU the cgroup roots itself */
	char *asked = NULL;
	if (!rc->version && runc_version(rc, &asked, err) < 0)
		return -1;
	const char *v = rc->version ? rc->version : asked;
	int needs = cgroup_runc_needs_root(v);
	int r = 0;
	if (needs && cgroup_restore_root(b->cgroups_path, name, want, err) < 0)
		r = mig_err_wrap(err,
				 "runc %s on cgroup v2 does not tell CRIU the container's cgroup "
				 "(runc 1.2 does), and it cannot be told here",
				 v);
	if (r == 0 && needs)
		log_info("runc %s on cgroup v2: telling CRIU the cgroup of %s itself (cgroup-root "
			 "%s)",
			 v, name, *want);
	free(asked);
	return r;
}

int restore_criu_config(const struct criu_opts *opts, const char *cgroup_root, char *conf,
			size_t len, struct mig_err **err)
{
	const char *lines[CRIU_CONFIG_LINES + 1]; /* ours, and cgroup-root */
	size_t n = criu_config_lines(opts, 0, 0, lines);
	char *cg = cgroup_root ? mig_strdup_printf("cgroup-root %s", cgroup_root) : NULL;
	if (cg) {
		lines[n++] = cg;
		lines[n] = NULL;
	}
	int r = criu_config_write(lines, conf, len, err);
	free(cg);
	return r;
}

/* restore_criu_config for name from bundle b, with the cgroup-root runc < 1.2 on cgroup v2
 * needs (*want, for the check afterwards; NULL when none). */
static int restore_config(const struct runc_ctx *rc, const char *name, const struct bundle_info *b,
			  const struct criu_opts *opts, char *conf, size_t len, char **want,
			  struct mig_err **err)
{
	conf[0] = '\0';
	if (cgroup_root(rc, name, b, want, err) < 0)
		return -1;
	if (restore_criu_config(opts, *want, conf, len, err) < 0) {
		free(*want);
		*want = NULL;
		return -1;
	}
	return 0;
}

/* After a restore given cgroup-root: the init must be in that cgroup (or below it), where
 * runc manages it, or the next `runc pause` freezes an empty cgroup and the next
 * checkpoint fails ("Unseizable non-zombie"). */
static int check_cgroup(const struct runc_ctx *rc, const char *name, const char *want,
			struct mig_err **err)
{
	enum runc_status st;
	int pid = 0;
	if (runc_state_pid(rc, name, &st, &pid, err) < 0)
		return -1;
	char *have = pid > 0 ? cgroup_v2_of(pid) : NULL;
	size_t n = strlen(want);
	int r = 0;
	if (have && !(!strncmp(have, want, n) && (have[n] == '\0' || have[n] == '/')))
		r = mig_err_set(err, 0,
				"the restored init of %s (PID %d) is in cgroup %s, not in %s where "
				"runc manages it",
				name, pid, have, want);
	free(have);
	return r;
}

int restore_container(const struct runc_ctx *rc, const char *name, const struct bundle_info *b,
		      const char *image, const char *work, int lazy, const struct criu_opts *opts,
		      struct mig_err **err)
{
	struct console_sock cs = {.fd = -1};
	if (prepare_dirs(b, image, work, err) < 0)
		return -1;
	char conf[PATH_MAX], *want = NULL;
	if (restore_config(rc, name, b, opts, conf, sizeof(conf), &want, err) < 0)
		return -1;
	if (b->terminal && console_listen(&cs, err) < 0) {
		if (conf[0])
			unlink(conf);
		free(want);
		return -1;
	}
	struct runc_ctx rrc = *rc;
	rrc.criu_config = conf[0] ? conf : NULL;
	char *image_path = bundle_path(b, image), *work_path = bundle_path(b, work);
	struct runc_restore rr = {.bundle = b->dir,
				  .image_path = image_path,
				  .work_path = work_path,
				  .console_socket = b->terminal ? cs.path : NULL,
				  .lazy = lazy,
				  .opts = opts};
	int r = runc_restore(&rrc, name, &rr, err);
	free(image_path);
	free(work_path);
	if (conf[0])
		unlink(conf);
	if (r == 0 && want)
		r = check_cgroup(rc, name, want, err);
	free(want);
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
