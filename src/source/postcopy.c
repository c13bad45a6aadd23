/* Post-copy (lazy pages): the final dump writes everything but the memory pages, which the
 * source's page server hands out on demand after the destination has restored the
 * container; the downtime is the dump of the small image, its transfer and the restore.
 * The page server listens on 127.0.0.1 only and its one connection is ours: its bytes go
 * through the pages connection of the control session (tunnel.h, pageserver.h). */
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
#include "pageserver.h"
#include "timeouts.h"
#include "tunnel.h"

/* The two CRIUs must speak the same page-server records (pageserver.h); the tunnel watches
 * them for the daemon's goodbye when it knows their size. */
static int prepare_watch(struct migration *m, struct mig_err **err)
{
	char *mine = NULL;
	if (criu_version(m->p->tools.criu, &mine, err) < 0)
		return -1;
	const char *theirs = m->sess.dst_criu_version;
	size_t a = page_server_record_size(mine), b = page_server_record_size(theirs);
	int r = 0;
	if (a && b && a != b)
		r = mig_err_set(
		    err, 0,
		    "CRIU %s here and CRIU %s on %s do not speak the same page-server "
		    "protocol (CRIU 4.2 changed its messages): use the same CRIU on both "
		    "hosts, or cold or pre-copy",
		    mine, theirs, m->p->where.ssh.host);
	else if (!a)
		log_warn("CRIU %s: its page-server messages are not known here, so the page "
			 "tunnel does not watch for the lazy-pages daemon's goodbye "
			 "(docs/notes-lazy-pages.md, \"The pages connection\")",
			 mine);
	ps_watch_init(&m->ps_watch, a);
	m->tunnel_watch = ps_watch_tunnel(&m->ps_watch);
	free(mine);
	return r;
}

int postcopy_prepare(struct migration *m, struct mig_err **err)
{
	free(m->page_server);
	m->page_server = mig_strdup_printf("127.0.0.1:%d", m->p->how.page_server_port);
	if (prepare_watch(m, err) < 0)
		return mig_err_wrap(err, "post-copy");
	int s = m->p->tools.runc.timeout_ms / 10;
	m->silence_ms = s < LAZY_SILENCE_MIN_MS	  ? LAZY_SILENCE_MIN_MS
			: s > LAZY_SILENCE_MAX_MS ? LAZY_SILENCE_MAX_MS
						  : s;
	return session_pages(&m->sess, m->p->what.container, m->silence_ms, err);
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
	/* CRIU listens now; before anything moves, its one connection must be ours. */
	int fd = -1;
	if (r == 0 && (r = page_server_connect(m->p->how.page_server_port, &fd, err)) == 0)
		r = tunnel_start(fd, m->sess.pages, &m->tunnel_watch, err);
	return r;
}

/* The tunnel's end: its byte count into the report, its failure (if any) into *err; brk:
 * see tunnel_stop. */
static void end_tunnel(struct migration *m, int brk, struct mig_err **err)
{
	struct tunnel_stats st = {0};
	if (!tunnel_active())
		return;
	tunnel_stop(&st, err, brk);
	m->r->lazy_wire_bytes = st.to_remote;
}

void postcopy_abort(struct migration *m)
{
	struct mig_err *e = NULL;
	end_tunnel(m, 1, &e); /* nothing was restored from these pages: CRIU may resume */
	mig_err_free(&e);
	if (!m->lazy_running)
		return;
	struct proc_result res;
	proc_kill(&m->lazy, &res);
	proc_result_free(&res);
	m->lazy_running = 0;
}

/* The page server's exit: 0 when it served to the end (exit 0). */
static int page_server_exit(struct migration *m, struct mig_err **err)
{
	struct proc_result res;
	struct mig_err *e = NULL;
	int r = 0;
	if (proc_wait(&m->lazy, &res, &e) == 0) {
		const char *argv[] = {"runc", NULL};
		if (!(res.exited && res.exit_code == 0)) {
			r = -1;
			proc_result_err(argv, &res, err);
			mig_err_wrap(err, "page server");
		}
		proc_result_free(&res);
	} else {
		r = -1;
		if (err && !*err)
			*err = e, e = NULL;
	}
	mig_err_free(&e);
	m->lazy_running = 0;
	return r;
}

/* The pages keep moving as long as the SSH connection holds (its own limit, LAZY_FACTOR *
 * STEP, bounds the page server); a daemon that went away without its goodbye, or a link
 * that broke, leaves the page server's connection held until the destination's copy is
 * surely gone (timeouts.h, 8.; and not before safe_at), and then breaks it. */
static int let_pages_finish(struct migration *m, long long safe_at)
{
	struct mig_err *e = NULL;
	(void)tunnel_run(proc_deadline_in(LAZY_FACTOR * m->p->tools.runc.timeout_ms), &e);
	mig_err_free(&e);
	int bye = tunnel_goodbye();
	long long quiet = proc_now_ms() + m->silence_ms + ROLLBACK_MARGIN_MS;
	if (!bye)
		wait_until_safe(m, quiet > safe_at ? quiet : safe_at);
	end_tunnel(m, !bye, &e);
	mig_err_free(&e);
	return bye;
}

void postcopy_let_finish(struct migration *m, long long safe_at, struct mig_err **cause)
{
	if (!m->lazy_running)
		return;
	let_pages_finish(m, safe_at);
	struct mig_err *e = NULL;
	int served = page_server_exit(m, &e) == 0;
	mig_err_free(&e);
	mig_err_append(cause, served
				  ? "the page server here then served every page the destination "
				    "asked for (it most likely runs there)"
				  : "the page server here then ended without serving every page");
}

/* Until lazy_done: a ping every LAZY_HEARTBEAT_MS, whose answers (and anything else) are
 * the destination's signs of life.  NULL with *err when the destination fell silent for
 * the silence limit (MIG_TIMEOUT), the connection ended, or the wait's limit passed. */
static cJSON *await_lazy_done(struct migration *m, struct mig_err **err)
{
	long long deadline = proc_deadline_in(LAZY_FACTOR * m->p->tools.runc.timeout_ms);
	long long heard = proc_now_ms();
	for (;;) {
		long long now = proc_now_ms(), left = deadline - now;
		long long quiet = heard + m->silence_ms - now;
		if (quiet <= 0 || left <= 0) {
			mig_err_set_status(
			    err, MIG_TIMEOUT,
			    quiet <= 0 ? "the destination said nothing for %d s in the "
					 "lazy phase"
				       : "no lazy_done within %d s",
			    quiet <= 0 ? m->silence_ms / 1000 : LAZY_FACTOR * m->p->limits.step_s);
			return NULL;
		}
		long long wait = LAZY_HEARTBEAT_MS < left ? LAZY_HEARTBEAT_MS : left;
		cJSON *msg = session_recv_split(&m->sess, (int)(wait < quiet ? wait : quiet), err);
		if (msg) {
			heard = proc_now_ms();
			const char *type = proto_get_str(msg, "type", 0, NULL);
			if (type && !strcmp(type, "reply")) { /* to a ping */
				cJSON_Delete(msg);
				continue;
			}
			return msg;
		}
		if (mig_err_status(*err) != MIG_TIMEOUT)
			return NULL;
		mig_err_free(err);
		cJSON *ping = proto_msg("lazy_alive");
		cJSON_AddStringToObject(ping, "name", m->p->what.container);
		int r = session_send(&m->sess, ping, err);
		cJSON_Delete(ping);
		if (r < 0)
			return NULL;
	}
}

/* lazy_done's fields into the report; 1 when it says ok. */
static int take_lazy_done(struct migration *m, cJSON *msg, struct mig_err **err)
{
	long long v;
	int ok = 0;
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
	return ok;
}

/* No lazy_done: where the container lives on (timeouts.h, 8.).  -2 (an unknown outcome)
 * when the destination's daemon said its goodbye or its handler vanished while the pages
 * still moved; -1 (the container resumed here) when the destination fell silent or the
 * link broke: the connection is cut and the page server's broken only after the wait. */
static int lazy_phase_lost(struct migration *m, struct mig_err **err)
{
	if (!tunnel_done() && mig_err_status(*err) == MIG_CLOSED) {
		/* the control channel ended but the pages still move: its handler is gone */
		int bye = let_pages_finish(m, 0);
		mig_err_append(err,
			       bye ? "the destination's lazy-pages daemon then fetched every "
				     "page: the container most likely runs there only"
				   : "the pages then stopped too, and CRIU resumed the container "
				     "here: a copy there that nobody removed is missing pages");
		page_server_exit(m, NULL);
		return -2;
	}
	if (tunnel_goodbye()) {
		end_tunnel(m, 0, NULL);
		int served = page_server_exit(m, NULL) == 0;
		mig_err_append(err,
			       served ? "the destination's lazy-pages daemon had said its goodbye "
					"(after its last page, or after a failure: the "
					"destination's word on which was lost): the container "
					"most likely runs there only"
				      : "the destination's lazy-pages daemon had said its goodbye, "
					"but the page server here then failed, and CRIU resumed "
					"the container here: it may run on both hosts");
		return -2;
	}
	hang_up(m);
	wait_until_safe(m, proc_now_ms() + m->silence_ms + ROLLBACK_MARGIN_MS);
	end_tunnel(m, 1, NULL); /* CRIU resumes the container here */
	page_server_exit(m, NULL);
	return -1;
}

int postcopy_finish(struct migration *m, struct mig_err **err)
{
	long long t0 = proc_now_ms();
	log_info("%s runs on %s: its memory follows through the page tunnel", m->p->what.container,
		 m->p->where.ssh.host);
	cJSON *msg = await_lazy_done(m, err);
	int r;
	if (!msg) {
		r = lazy_phase_lost(m, err);
	} else if (!take_lazy_done(m, msg, err)) {
		/* The destination removed its copy: CRIU resumes ours, also when the daemon said
		 * its goodbye before it failed (CRIU's daemon says it either way): the tunnel
		 * answered it, and the page server never saw it (tunnel.h). */
		end_tunnel(m, 1, NULL);
		page_server_exit(m, NULL);
		r = -1;
	} else {
		/* The destination has every page: the tunnel hands the daemon's goodbye to the
		 * page server (tunnel_stop), which then ends, and CRIU with it.  Whether that
		 * went well is the page server's exit; a tunnel failure after the daemon's
		 * end is only its cause when the page server failed too. */
		struct mig_err *e = NULL;
		(void)tunnel_run(proc_deadline_in(TUNNEL_DRAIN_MS), &e);
		end_tunnel(m, 0, e ? NULL : &e);
		r = page_server_exit(m, err);
		if (r < 0 && e)
			mig_err_append(err, "%s", mig_err_msg(e));
		mig_err_free(&e);
	}
	cJSON_Delete(msg);
	m->r->page_server_ms = proc_now_ms() - t0;
	if (r < 0 && err && !*err)
		mig_err_set(err, 0, "post-copy did not complete");
	return r;
}
