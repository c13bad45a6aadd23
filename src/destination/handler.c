/* migrate-dst: one connection (handler.h). */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "proto.h"
#include "requests.h"
#include "session.h"
#include "stop.h"
#include "target.h"
#include "timeouts.h"

/* Logs e and tells the peer before hanging up: it may be a person with nc, or a client
 * that deserves a reason.  Frees e. */
static void refuse_and_log(struct dst_session *s, struct mig_err **e)
{
	log_warn("%s: %s", s->conn->peer, mig_err_msg(*e));
	cJSON *rep = proto_reply(mig_err_msg(*e));
	struct mig_err *e2 = NULL;
	if (dst_send(s, rep, &e2) < 0)
		mig_err_free(&e2); /* the peer is gone: nobody to tell */
	cJSON_Delete(rep);
	mig_err_free(e);
}

static void send_or_log(struct dst_session *s, cJSON *msg)
{
	struct mig_err *e = NULL;
	if (dst_send(s, msg, &e) < 0) {
		log_warn("%s", mig_err_msg(e));
		mig_err_free(&e);
	}
}

/* The copy here must go (a source that did not confirm, pages that did not arrive): the
 * report says what happened and the log too. */
static void discard(struct dst_ctx *d, struct dst_session *s, const char *what,
		    struct mig_err **cause)
{
	lazy_stop(&s->lazy);
	target_discard(d, &s->bundle, s->report.container, what, cause);
	log_error("%s", mig_err_msg(*cause));
	s->report.ok = 0;
	report_fail(&s->report, 1, mig_err_msg(*cause));
	mig_err_free(cause);
}

/* After a successful restore's reply: the source must confirm it before the restore's
 * deadline and COMMIT_GRACE_MS have passed.  A source that gave up waiting restores the
 * container on its side ROLLBACK_MARGIN_MS after that, so an unconfirmed copy here is
 * removed by then: never two running copies (timeouts.h, 1. and 2.).  A SIGTERM removes it
 * at once. */
static void await_commit(struct dst_ctx *d, struct dst_session *s, struct mig_conn *c)
{
	struct mig_err *e = NULL;
	long long left = s->restore_deadline_ms + COMMIT_GRACE_MS - proc_now_ms();
	cJSON *req = NULL;
	if (left > 0)
		req = proto_recv_split(c, (int)left, FRAME_REST_MS, &e);
	else
		mig_err_set_status(&e, MIG_TIMEOUT, "its deadline passed");
	const char *type = req ? proto_get_str(req, "type", 0, NULL) : NULL;
	if (type) {
		cJSON *rep = dst_handle_request(d, s, req);
		/* Our reply may be lost, but the source did commit: keep the copy. */
		if (rep)
			send_or_log(s, rep);
		cJSON_Delete(rep);
	}
	cJSON_Delete(req);
	if (s->committed)
		return;
	if (!e)
		mig_err_set(&e, 0, "the source sent something else than commit");
	mig_err_wrap(&e, "the source did not confirm the restore");
	discard(d, s, "unconfirmed copy", &e);
}

/* One slice of the lazy phase's listening (timeouts.h, 8.): the source's ping is answered.
 * -1 with *err when the source is gone, silent for its silence limit, or says anything
 * else. */
static int listen_source(struct dst_ctx *d, struct dst_session *s, long long *heard,
			 struct mig_err **err)
{
	int silence = s->silence_ms > 0 ? s->silence_ms : LAZY_SILENCE_MAX_MS;
	if (proc_now_ms() - *heard >= silence)
		return mig_err_set(err, 0, "the source said nothing for %d s in the lazy phase",
				   silence / 1000);
	struct mig_err *e = NULL;
	cJSON *req = proto_recv_whole(s->conn, LAZY_POLL_MS, FRAME_REST_MS, &e);
	if (!req && mig_err_status(e) == MIG_TIMEOUT) {
		mig_err_free(&e);
		return 0;
	}
	if (!req) {
		*err = e;
		return mig_err_wrap(err, "the source went away in the lazy phase");
	}
	*heard = proc_now_ms();
	cJSON *rep = dst_handle_request(d, s, req);
	cJSON_Delete(req);
	if (rep)
		send_or_log(s, rep);
	cJSON_Delete(rep);
	if (s->broken || s->auth_failed)
		return mig_err_set(err, 0,
				   "the source sent something else than lazy_alive in "
				   "the lazy phase");
	return 0;
}

/* After a lazy restore's reply and commit: waits until the lazy-pages daemon has fetched
 * every page and exited, answering the source's pings meanwhile, then tells the source
 * ("lazy_done").  A copy missing pages (its memory would read as zeros) is removed: when
 * the daemon fails, and when the source is gone or silent (it resumes its own copy after
 * the same silence and a margin). */
static void finish_lazy(struct dst_ctx *d, struct dst_session *s)
{
	struct mig_err *e = NULL;
	long long bytes = REPORT_NONE, heard = proc_now_ms();
	int r;
	while ((r = lazy_poll(&s->lazy, LAZY_POLL_MS, &bytes, &e)) == 1)
		if (listen_source(d, s, &heard, &e) < 0) {
			r = -1;
			break;
		}
	cJSON *msg = proto_msg("lazy_done");
	s->report.lazy_ms = proc_now_ms() - s->restore_done_ms;
	s->report.lazy_bytes = bytes;
	cJSON_AddBoolToObject(msg, "ok", r == 0);
	cJSON_AddNumberToObject(msg, "lazy_ms", (double)s->report.lazy_ms);
	if (bytes != REPORT_NONE)
		cJSON_AddNumberToObject(msg, "lazy_bytes", (double)bytes);
	if (r < 0) {
		discard(d, s, "incomplete copy", &e);
		cJSON_AddStringToObject(msg, "error", s->report.error);
	}
	send_or_log(s, msg);
	cJSON_Delete(msg);
}

static void print_report(struct dst_ctx *d, struct dst_session *s)
{
	s->report.total_ms = proc_now_ms() - s->start_ms;
	s->report.exit_code = s->report.ok ? 0 : 1;
	report_print(&s->report, d->cfg->json, d->cfg->verbose, stdout);
}

/* What follows a successful restore's reply: the commit, the image's size (kept out of
 * the downtime), the last lazy page. */
static void after_restore(struct dst_ctx *d, struct dst_session *s, struct mig_conn *c)
{
	if (s->report.ok)
		await_commit(d, s, c);
	if (s->report.ok)
		s->report.dump_bytes = bundle_tree_size(&s->bundle, "image");
	if (s->lazy.running)
		finish_lazy(d, s);
}

/* The "pages" reply is out: the source opens its pages connection now (pages.h).  A
 * failure is the source's to report (it stops before its freeze); a lazy restore without
 * the connection is refused. */
static void accept_pages(struct dst_ctx *d, struct dst_session *s)
{
	struct mig_err *e = NULL;
	if (pages_accept(&s->pages, d->auth_on ? &s->keys : NULL, s->name, &e) < 0) {
		log_warn("%s: %s", s->conn->peer, mig_err_msg(e));
		mig_err_free(&e);
	}
}

/* Reads and answers one request.  0 to go on, 1 when the connection is over. */
static int serve_one(struct dst_ctx *d, struct dst_session *s, struct mig_conn *c)
{
	struct mig_err *e = NULL;
	/* Until a request proves the token, the peer has PREAUTH_MS from the accept in all,
	 * for reading and writing: unauthenticated connections cannot hold the handler slots
	 * (server.c evicts the oldest of them too). */
	int wait_ms = IDLE_STEPS * d->runc.timeout_ms, rest_ms = FRAME_REST_MS;
	if (!s->trusted) {
		long long left = s->preauth_deadline_ms - proc_now_ms();
		wait_ms = rest_ms = left > 0 ? (int)left : 1;
		c->write_stall_ms = wait_ms;
	} else {
		c->write_stall_ms = 0;
	}
	cJSON *req = proto_recv_split(c, wait_ms, rest_ms, &e);
	if (!req) {
		if (mig_err_status(e) == MIG_CLOSED)
			mig_err_free(&e);
		else
			refuse_and_log(s, &e);
		return 1;
	}
	const char *type = proto_get_str(req, "type", 0, NULL);
	log_debug("%s: request %s", c->peer, type ? type : "?");
	int is_restore = type && !strcmp(type, "restore");
	int is_pages = type && !strcmp(type, "pages");
	int was_trusted = s->trusted;
	cJSON *rep = dst_handle_request(d, s, req);
	cJSON_Delete(req);
	if (!rep)
		return 0; /* a streamed file: no reply */
	send_or_log(s, rep);
	cJSON_Delete(rep);
	if (is_pages && s->pages.listen_fd >= 0)
		accept_pages(d, s);
	if (is_restore && s->restore_tried)
		after_restore(d, s, c);
	if (!was_trusted && s->trusted)
		dst_authenticated(d);
	return (is_restore && s->restore_tried) || s->auth_failed || s->broken;
}

static void session_free(struct dst_session *s)
{
	lazy_stop(&s->lazy);
	pages_free(&s->pages);
	struct mig_err *e = NULL;
	if (!s->restore_tried && dst_drop_partial_image(s, &e) < 0) {
		log_warn("%s", mig_err_msg(e));
		mig_err_free(&e);
	}
	bundle_free(&s->bundle);
	stream_rx_free(&s->rx);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
}

int dst_handle_conn(struct dst_ctx *d, struct mig_conn *c)
{
	struct dst_session s;
	memset(&s, 0, sizeof(s));
	s.lock_fd = -1;
	s.bundle.fd = -1;
	pages_init(&s.pages);
	stream_rx_init(&s.rx);
	s.conn = c;
	s.start_ms = proc_now_ms();
	s.preauth_deadline_ms = d->accepted_ms + PREAUTH_MS;
	report_init(&s.report, "destination", "", "cold");
	while (!stop_requested() && serve_one(d, &s, c) == 0)
		;
	int tried = s.restore_tried;
	session_free(&s);
	if (!tried)
		return DST_NO_MIGRATION;
	print_report(d, &s);
	return s.report.ok ? DST_MIGRATED : DST_FAILED;
}
