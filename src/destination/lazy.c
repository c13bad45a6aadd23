/* migrate-dst, post-copy: the criu lazy-pages daemon (lazy.h). */
#include "lazy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "criu.h"
#include "fs.h"
#include "proto.h"
#include "timeouts.h"

/* How often the socket is looked for while the daemon starts, and where. */
#define SOCKET_POLL_MS 20
#define SOCKET	       "work/lazy-pages.socket"

/* Waits until the daemon's socket appears, or it exits, or LAZY_SOCKET_WAIT_MS pass. */
static int await_socket(struct dst_lazy *l, const struct bundle_info *b, struct mig_err **err)
{
	long long deadline = proc_now_ms() + LAZY_SOCKET_WAIT_MS;
	struct proc_result res;
	struct mig_err *e = NULL;
	int w = 1, there = 0;
	while ((there = fs_exists_at(b->fd, SOCKET, &e)) == 0 && proc_now_ms() < deadline &&
	       (w = proc_wait_for(&l->proc, SOCKET_POLL_MS, &res, err)) == 1)
		;
	if (there < 0) {
		*err = e;
		return -1;
	}
	if (w < 0) {
		l->running = 0;
		return -1;
	}
	if (w == 0) {
		const char *argv[] = {"criu lazy-pages", NULL};
		l->running = 0;
		if (res.exited && res.exit_code == 0)
			mig_err_set(err, 0, "criu lazy-pages exited before serving");
		else
			proc_result_err(argv, &res, err);
		proc_result_free(&res);
		return -1;
	}
	if (!there)
		return mig_err_set(err, 0, "criu lazy-pages did not start (no %s/%s)", b->dir,
				   SOCKET);
	return 0;
}

int lazy_start(struct dst_lazy *l, const char *criu, int step_ms, struct dst_pages *pages,
	       const struct bundle_info *b, struct mig_err **err)
{
	memset(l, 0, sizeof(*l));
	if (pages->fd < 0)
		return mig_err_set(err, 0,
				   "post-copy needs the source's pages connection first (a 'pages' "
				   "request before the restore: is migrate-src older than this "
				   "migrate-dst?)");
	char *image = bundle_path(b, "image"), *work = bundle_path(b, "work");
	l->log = mig_strdup_printf("%s/lazy-pages.log", work);
	int r = bundle_make_dir(b, "work", err);
	if (r == 0) {
		const char *argv[CRIU_MAX_ARGS];
		char fd[16];
		snprintf(fd, sizeof(fd), "%d", pages->fd);
		criu_lazy_pages_argv(criu, fd, image, work, l->log, argv);
		const int keep[] = {pages->fd, -1};
		struct proc_opts po = {
		    .timeout_ms = LAZY_FACTOR * step_ms, .stdout_null = 1, .keep_fds = keep};
		r = proc_spawn(&l->proc, argv, &po, err);
	}
	/* The daemon has it now: its end of the connection is the source's page server's. */
	close(pages->fd);
	pages->fd = -1;
	if (r == 0) {
		l->running = 1;
		r = await_socket(l, b, err);
	}
	free(image);
	free(work);
	return r;
}

/* The daemon has ended with res: 0 when it did well. */
static int ended(struct dst_lazy *l, struct proc_result *res, long long *bytes,
		 struct mig_err **err)
{
	const char *argv[] = {"criu lazy-pages", NULL};
	int ok = res->exited && res->exit_code == 0 && !res->timed_out;
	*bytes = criu_lazy_log_bytes(l->log);
	if (!ok)
		proc_result_err(argv, res, err);
	proc_result_free(res);
	return ok ? 0 : -1;
}

int lazy_wait(struct dst_lazy *l, long long *bytes, struct mig_err **err)
{
	struct proc_result res;
	*bytes = -1;
	l->running = 0;
	if (proc_wait(&l->proc, &res, err) < 0)
		return -1;
	return ended(l, &res, bytes, err);
}

int lazy_poll(struct dst_lazy *l, int wait_ms, long long *bytes, struct mig_err **err)
{
	struct proc_result res;
	*bytes = -1;
	int w = proc_wait_for(&l->proc, wait_ms, &res, err);
	if (w != 0) {
		if (w < 0)
			l->running = 0;
		return w < 0 ? -1 : 1;
	}
	l->running = 0;
	return ended(l, &res, bytes, err);
}

void lazy_explain(struct dst_lazy *l, struct mig_err **err)
{
	struct proc_result res;
	struct mig_err *e = NULL;
	if (l->running && proc_wait_for(&l->proc, 0, &res, &e) == 0) {
		const char *argv[] = {"criu lazy-pages", NULL};
		l->running = 0;
		if (res.exited && res.exit_code == 0 && !res.timed_out)
			mig_err_set(&e, 0, "criu lazy-pages exited with code 0");
		else
			proc_result_err(argv, &res, &e);
		proc_result_free(&res);
		mig_err_append(err, "the lazy-pages daemon had ended before: %s", mig_err_msg(e));
	}
	mig_err_free(&e);
	char *excerpt = l->log ? criu_log_excerpt(l->log) : NULL;
	if (excerpt && *excerpt)
		mig_err_append(err, "its log %s says: %s", l->log, excerpt);
	free(excerpt);
}

void lazy_stop(struct dst_lazy *l)
{
	if (l->running) {
		struct proc_result res;
		proc_kill(&l->proc, &res);
		proc_result_free(&res);
		l->running = 0;
	}
	free(l->log);
	l->log = NULL;
}
