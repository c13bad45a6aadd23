/* The freeze (technique.h): the final dump, the transfer inside the downtime, the restore
 * request and the commit.  The downtime clock runs from the pause to the restore reply. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "fs.h"
#include "log.h"
#include "proto.h"
#include "stats.h"
#include "stream.h"
#include "technique.h"
#include "timeouts.h"

/* Freezes the container with runc pause before the dump: runc returns as soon as the cgroup
 * is frozen, while CRIU's own freezer loop (cgroup v1) sleeps 100 ms per attempt, which
 * showed as ~100 ms more downtime in most dumps here.  CRIU dumps a frozen cgroup as it
 * finds it, and a failed dump leaves it paused, which rollback.c resumes.  Not essential:
 * a failing pause is a warning and CRIU freezes the container itself.  So is a pause that
 * left the init's cgroup unfrozen: runc froze a cgroup its tasks are not in (a restore by
 * runc < 1.2 on cgroup v2 without the cgroup-root of restore.c: docs/notes-platform.md,
 * "runc 1.1 on cgroup v2"). */
static void pause_first(struct migration *m)
{
	struct mig_err *e = NULL;
	const char *name = m->p->what.container;
	if (runc_pause(&m->p->tools.runc, name, &e) < 0) {
		report_warn(m->r, "%s; CRIU froze the container itself", mig_err_msg(e));
		mig_err_free(&e);
		return;
	}
	/* cgroup v2 only (cgroup.events); -1 on v1, where runc's freezer is the only one. */
	int frozen = m->init_pid > 0 ? cgroup_frozen(m->init_pid) : -1;
	if (frozen == 0)
		report_warn(m->r,
			    "runc pause returned, but the cgroup of %s's init (PID %d) is not "
			    "frozen: runc froze a cgroup its tasks are not in; CRIU froze them "
			    "itself",
			    name, m->init_pid);
	else if (frozen < 0)
		log_debug("whether the cgroup of %s's init is frozen cannot be told here", name);
}

/* The final dump: the freeze starts here.  On failure the outcome is in the report. */
static int checkpoint(struct migration *m)
{
	struct mig_err *e = NULL;
	int timed_out = 0, r;
	long long t0 = proc_now_ms();
	pause_first(m);
	if (mig_lazy(m)) {
		r = postcopy_dump(m, &timed_out, &e);
		if (r < 0)
			postcopy_abort(m);
	} else {
		struct runc_ckpt c = {.image_path = m->image,
				      .parent_path = m->parent_rel[0] ? m->parent_rel : NULL,
				      .opts = &m->p->how.criu};
		r = runc_checkpoint(&m->dump_runc, m->p->what.container, &c, &timed_out, &e);
	}
	m->r->dump_ms = proc_now_ms() - t0;
	if (r == 0)
		return 0;
	dump_failed(m, &e, timed_out, "checkpoint");
	return -1;
}

/* A rootfs unchanged since the first pass (same digest) needs no rsync in the downtime. */
static int rootfs_changed(struct migration *m)
{
	unsigned char now[32];
	struct mig_err *e = NULL;
	int same = m->have_digest && rootfs_digest(m, now, &e) == 0 &&
		   !memcmp(now, m->rootfs_digest, sizeof(now));
	mig_err_free(&e); /* an unreadable tree is a changed one: the rsync runs */
	if (same)
		log_debug("the rootfs did not change since the first pass");
	return !same;
}

/* The final rsync, inside the downtime: the rootfs delta and (with --transfer rsync) the
 * image. */
static int transfer(struct migration *m, struct mig_err **err)
{
	const char *srcs[3];
	size_t n = 0;
	if (m->p->how.transfer_rsync)
		n = xfer_sources(m, srcs);
	else if (m->p->what.sync_rootfs && rootfs_changed(m))
		srcs[n++] = m->b.rootfs;
	m->r->xfer_ms = 0;
	m->r->xfer_bytes = 0;
	if (n == 0)
		return 0;
	struct xfer_stats st;
	m->xfer.label = "transfer";
	int r = xfer_rsync(&m->xfer, XFER_ROOTFS, srcs, n, m->dst_bundle, &st, err);
	m->r->xfer_ms = st.elapsed_ms;
	m->r->xfer_bytes = st.bytes_sent;
	return r < 0 ? mig_err_wrap(err, "transfer") : 0;
}

static void sign_cb(void *ctx, cJSON *msg)
{
	session_sign(ctx, msg);
}

/* The image through the control channel (stream.h), right before the restore request. */
static int stream_image(struct migration *m, cJSON *req, struct mig_err **err)
{
	/* Level 1: the fastest; at 20 Mbit/s the link, not the CPU, is the limit. */
	struct stream_tx tx = {.c = m->sess.ctl,
			       .sign = sign_cb,
			       .sign_ctx = &m->sess,
			       .progress = m->xfer.progress,
			       .zstd_level = m->p->how.compress == COMPRESS_NONE ? 0 : 1};
	struct stream_sum sum;
	long long t0 = proc_now_ms();
	int dfd = bundle_open_dir(&m->b, "image", err);
	int r = dfd < 0 ? -1 : stream_send_dir(&tx, dfd, &sum, err);
	if (dfd >= 0)
		close(dfd);
	if (r < 0)
		return mig_err_wrap(err, "sending the image");
	m->r->xfer_ms += proc_now_ms() - t0;
	m->r->xfer_bytes += sum.wire;
	stream_sum_to_json(&sum, req);
	return 0;
}

/* A number of the destination's reply, or -1 (REPORT_NONE) when absent or out of range. */
static long long reply_num(const cJSON *rep, const char *key)
{
	long long v;
	return proto_get_count(rep, key, PROTO_MAX_COUNT, &v, 0, NULL) == 0 ? v : REPORT_NONE;
}

/* The destination's restore time and CRIU's restore statistics, as its reply carries them. */
static void take_restore_reply(struct migration *m, const cJSON *rep)
{
	struct criu_restore_stats st = {.present = 1};
	st.restore_us = reply_num(rep, "criu_restore_us");
	st.forking_us = reply_num(rep, "forking_us");
	st.pages_restored = reply_num(rep, "pages_restored");
	report_add_restore_stats(m->r, &st);
	long long ms = reply_num(rep, "restore_ms");
	if (ms >= 0)
		m->r->restore_ms = ms;
}

/* CRIU's statistics of the final dump (stats-dump in the image dir), read once the
 * downtime is over; a missing file costs only the numbers. */
static void add_dump_stats(struct migration *m)
{
	struct criu_dump_stats st;
	struct mig_err *e = NULL;
	if (stats_read_dump(m->image, &st, &e) == 0)
		report_add_dump_stats(m->r, &st);
	else
		report_warn(m->r, "%s", mig_err_msg(e));
	mig_err_free(&e);
}

static cJSON *restore_request(struct migration *m)
{
	const struct plan *p = m->p;
	cJSON *req = proto_msg("restore");
	cJSON_AddStringToObject(req, "name", p->what.container);
	cJSON_AddStringToObject(req, "technique", technique_name(p->how.technique));
	if (mig_lazy(m)) {
		cJSON_AddBoolToObject(req, "lazy", 1);
	}
	add_container_facts(m, req);
	return req;
}

/* Sends the image (unless rsync took it) and the restore request with our deadline for
 * its reply.  A handler that died (migrate-dst killed) was asked for nothing yet: safe to
 * roll back. */
static int send_restore(struct migration *m, long long deadline_ms, int *asked,
			struct mig_err **err)
{
	*asked = 0;
	if (!m->sess.ctl->alive(m->sess.ctl))
		return mig_err_set(err, 0,
				   "the control connection to migrate-dst closed before the "
				   "restore request (was migrate-dst stopped?)");
	cJSON *req = restore_request(m);
	cJSON_AddNumberToObject(req, "deadline_ms", (double)deadline_ms);
	/* A stop asked while the image streamed: the restore is not asked for. */
	int r = (!m->p->how.transfer_rsync && stream_image(m, req, err) < 0) || check_stop(err) < 0
		    ? -1
		    : 0;
	if (r == 0) {
		/* From here on the destination may restore: the exchange is finished (bounded by
		 * the deadline), not cut short by a signal; a rollback would wait for the
		 * deadline anyway. */
		m->sess.ctl->uninterruptible = 1;
		*asked = 1;
		if ((r = session_send(&m->sess, req, err)) < 0)
			mig_err_wrap(err, "restore request");
	}
	cJSON_Delete(req);
	return r;
}

/* The reply to the restore request, after the destination's "restoring" (which tells when
 * it read the request: its deadline follows from it, timeouts.h 1. and 2.).  *safe_at is
 * when a copy the destination may have made is surely gone. */
static cJSON *await_restore_reply(struct migration *m, long long t0, long long d,
				  long long *safe_at, struct mig_err **err)
{
	const long long bound = d + COMMIT_GRACE_MS + ROLLBACK_MARGIN_MS;
	*safe_at = t0 + RESTORING_WAIT_MS + bound;
	cJSON *msg = session_recv(&m->sess, RESTORING_WAIT_MS, err);
	const char *type = msg ? proto_get_str(msg, "type", 0, NULL) : NULL;
	if (!type || strcmp(type, "restoring"))
		return msg; /* a refusal comes at once, as the reply */
	cJSON_Delete(msg);
	long long now = proc_now_ms();
	*safe_at = now + bound;
	long long left = t0 + d - now;
	if (left <= 0) {
		mig_err_set_status(err, MIG_TIMEOUT, "timed out");
		return NULL;
	}
	return session_recv(&m->sess, (int)left, err);
}

/* Asks the destination to restore.  *unknown is set when the connection broke after the
 * request: a destination handler that died leaves its runc restore running, so the
 * container may or may not run there.  When we stop waiting ourselves (a timeout, a
 * signal), *safe_at says when our own copy may be restored (timeouts.h, 2.). */
static int request_restore(struct migration *m, int *unknown, long long *safe_at,
			   struct mig_err **err)
{
	*unknown = 0;
	long long d = m->p->tools.runc.timeout_ms + RESTORE_REPLY_MARGIN_MS;
	long long t0 = proc_now_ms();
	*safe_at = t0;
	int asked = 0;
	if (send_restore(m, d, &asked, err) < 0) {
		/* Sent in part or whole: the destination may have it. */
		if (asked)
			*safe_at =
			    t0 + RESTORING_WAIT_MS + d + COMMIT_GRACE_MS + ROLLBACK_MARGIN_MS;
		return -1;
	}
	cJSON *rep = await_restore_reply(m, t0, d, safe_at, err);
	if (!rep) {
		enum mig_status st = mig_err_status(*err);
		*unknown = st != MIG_TIMEOUT && st != MIG_STOPPED;
		return mig_err_wrap(err, "no answer to the restore request");
	}
	int ok = 0;
	proto_get_bool(rep, "ok", &ok, 0, NULL);
	if (!ok) {
		const char *why = proto_get_str(rep, "error", 0, NULL);
		mig_err_set(err, 0, "%s", why ? why : "destination refused the restore");
		*safe_at = proc_now_ms(); /* it says it has no copy, and proved the token */
	} else {
		take_restore_reply(m, rep);
	}
	cJSON_Delete(rep);
	return ok ? 0 : -1;
}

/* Confirms the destination's restore: a destination that gets no commit removes its copy.
 * *unknown is set unless the destination answered: a broken connection may mean its
 * handler died, and then nobody removes the copy there. */
static int commit(struct migration *m, int *unknown, struct mig_err **err)
{
	cJSON *req = proto_msg("commit");
	cJSON_AddStringToObject(req, "name", m->p->what.container);
	*unknown = 1;
	/* Once the destination runs it, finishing the commit is the way to one copy: a
	 * SIGINT now does not cut it short (send_restore made the channel so). */
	int r = session_send(&m->sess, req, err);
	cJSON_Delete(req);
	if (r < 0)
		return mig_err_wrap(err, "commit");
	cJSON *rep = session_recv(&m->sess, CONTROL_REPLY_MS, err);
	if (!rep)
		return mig_err_wrap(err, "no answer to the commit");
	*unknown = 0;
	int ok = 0;
	proto_get_bool(rep, "ok", &ok, 0, NULL);
	if (!ok) {
		const char *why = proto_get_str(rep, "error", 0, NULL);
		mig_err_set(err, 0, "destination refused the commit: %s", why ? why : "?");
	}
	cJSON_Delete(rep);
	return ok ? 0 : -1;
}

int freeze_and_move(struct migration *m)
{
	struct mig_err *e = NULL;
	long long t_freeze = proc_now_ms();
	if (checkpoint(m) < 0)
		return m->r->exit_code;
	/* A stop asked during the dump: no point sending an image we will not use. */
	if (check_stop(&e) < 0 || transfer(m, &e) < 0 || check_stop(&e) < 0)
		return rollback(m, &e);
	/* Without an answer the source gives up and restores its own copy: the destination
	 * stops its restore when we hang up, or removes the copy we never commit. */
	long long safe_at = 0;
	int unknown = 0, r = request_restore(m, &unknown, &safe_at, &e);
	if (r == 0)
		m->r->downtime_ms = proc_now_ms() - t_freeze;
	if (r < 0 || commit(m, &unknown, &e) < 0) {
		if (unknown) {
			if (mig_lazy(m))
				postcopy_let_finish(m, safe_at, &e);
			return unknown_outcome(m, &e);
		}
		hang_up(m);
		wait_until_safe(m, safe_at);
		return rollback(m, &e);
	}
	if (mig_lazy(m) && (r = postcopy_finish(m, &e)) < 0)
		return r == -2 ? unknown_outcome(m, &e) : lazy_failed(m, &e);
	m->r->dump_bytes = bundle_tree_size(&m->b, "image");
	add_dump_stats(m);
	m->r->ok = 1;
	m->r->exit_code = EXIT_MIGRATED;
	return EXIT_MIGRATED;
}
