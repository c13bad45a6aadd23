/* Post-copy (lazy pages): the final dump writes everything but the memory pages, which the
 * source's page server hands out on demand after the destination has restored the
 * container; the downtime is the dump of the small image, its transfer and the restore. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "criu.h"
#include "log.h"
#include "proto.h"
#include "technique.h"
#include "timeouts.h"

int postcopy_prepare(struct migration *m, struct mig_err **err)
{
	const struct plan *p = m->p;
	if (p->how.page_server_addr) {
		snprintf(m->ps_addr, sizeof(m->ps_addr), "%s", p->how.page_server_addr);
	} else {
		/* The address this host uses to reach the destination is one the destination
		 * can reach back. */
		int fd = m->sess.ssh ? mig_ssh_fd(m->sess.ssh) : conn_fd(m->sess.ctl);
		if (sock_local_addr(fd, m->ps_addr, sizeof(m->ps_addr), err) < 0)
			return mig_err_wrap(err, "page server address (give --page-server-addr)");
	}
	free(m->page_server);
	m->page_server = conn_host_join(m->ps_addr, ":%d", p->how.page_server_port);
	return 0;
}

/* Waits for runc's ready byte on fd, or for the dump to end without it. */
static int wait_ready(struct migration *m, int fd, int *timed_out, struct mig_err **err)
{
	long long deadline = proc_now_ms() + m->p->tools.runc.timeout_ms;
	for (;;) {
		long long left = deadline - proc_now_ms();
		if (left <= 0) {
			*timed_out = 1;
			return mig_err_set(err, 0, "runc timed out after %d s",
					   m->p->limits.step_s);
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mig_err_set(err, errno, "poll");
		if (r == 0)
			continue;
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n == 1)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		/* EOF: runc and CRIU closed the status fd without a ready byte. */
		struct proc_result res;
		if (proc_wait(&m->lazy, &res, err) == 0) {
			const char *argv[] = {"runc", NULL};
			if (res.exited && res.exit_code == 0)
				mig_err_set(err, 0,
					    "runc checkpoint ended without signalling ready");
			else
				proc_result_err(argv, &res, err);
			proc_result_free(&res);
		}
		m->lazy_running = 0;
		return -1;
	}
}

int postcopy_dump(struct migration *m, int *timed_out, struct mig_err **err)
{
	int pfd[2];
	*timed_out = 0;
	/* Checked again right before the dump: the setting is the whole machine's, and
	 * something else may have lowered it since the preflight. */
	char *note = NULL;
	if (criu_pipe_size_prepare(m->p->how.no_sysctl, "/proc/sys", &note, err) < 0)
		return -1;
	if (note)
		log_info("%s", note);
	free(note);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return mig_err_set(err, errno, "pipe");
	struct runc_ckpt c = {.image_path = m->image,
			      .parent_path = m->parent_rel[0] ? m->parent_rel : NULL,
			      .lazy = 1,
			      .page_server = m->page_server,
			      .status_fd = pfd[1],
			      .opts = &m->p->how.criu};
	/* The page server lives until the destination has every page (timeouts.h, 6.). */
	struct runc_ctx rc = m->dump_runc;
	rc.timeout_ms *= LAZY_FACTOR;
	int r = runc_checkpoint_spawn(&rc, m->p->what.container, &c, &m->lazy, err);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		return -1;
	}
	m->lazy_running = 1;
	r = wait_ready(m, pfd[0], timed_out, err);
	close(pfd[0]);
	return r;
}

void postcopy_abort(struct migration *m)
{
	if (!m->lazy_running)
		return;
	struct proc_result res;
	proc_kill(&m->lazy, &res);
	proc_result_free(&res);
	m->lazy_running = 0;
}

void postcopy_let_finish(struct migration *m, struct mig_err **cause)
{
	if (!m->lazy_running)
		return;
	/* Its own limit (LAZY_FACTOR * STEP) bounds the wait. */
	struct proc_result res;
	struct mig_err *e = NULL;
	if (proc_wait(&m->lazy, &res, &e) == 0) {
		int served = res.exited && res.exit_code == 0;
		mig_err_append(cause,
			       served
				   ? "the page server here then served every page the destination "
				     "asked for (it most likely runs there)"
				   : "the page server here then ended without serving every page "
				     "(exit %d)",
			       res.exit_code);
		proc_result_free(&res);
	}
	mig_err_free(&e);
	m->lazy_running = 0;
}

int postcopy_finish(struct migration *m, struct mig_err **err)
{
	long long t0 = proc_now_ms();
	cJSON *msg = session_recv(&m->sess, LAZY_FACTOR * m->p->tools.runc.timeout_ms, err);
	int ok = 0;
	if (msg) {
		long long v;
		const char *type = proto_get_str(msg, "type", 0, NULL);
		proto_get_bool(msg, "ok", &ok, 0, NULL);
		if (!type || strcmp(type, "lazy_done"))
			ok = 0, mig_err_set(err, 0, "unexpected message instead of lazy_done");
		else if (!ok)
			mig_err_set(err, 0, "%s",
				    proto_get_str(msg, "error", 0, NULL)
					? proto_get_str(msg, "error", 0, NULL)
					: "the destination's lazy-pages daemon failed");
		if (proto_get_count(msg, "lazy_ms", PROTO_MAX_COUNT, &v, 0, NULL) == 0)
			m->r->lazy_ms = v;
		if (proto_get_count(msg, "lazy_bytes", PROTO_MAX_COUNT, &v, 0, NULL) == 0)
			m->r->lazy_bytes = v;
		cJSON_Delete(msg);
	}
	/* The page server exits once the destination has every page. */
	struct proc_result res;
	struct mig_err *e2 = NULL;
	if (proc_wait(&m->lazy, &res, &e2) == 0) {
		const char *argv[] = {"runc", NULL};
		if (!(res.exited && res.exit_code == 0) && ok) {
			ok = 0;
			proc_result_err(argv, &res, err);
			mig_err_wrap(err, "page server");
		}
		proc_result_free(&res);
	}
	mig_err_free(&e2);
	m->lazy_running = 0;
	m->r->page_server_ms = proc_now_ms() - t0;
	if (!ok && err && !*err)
		mig_err_set(err, 0, "post-copy did not complete");
	return ok ? 0 : -1;
}
