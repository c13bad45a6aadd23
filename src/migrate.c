#include "migrate.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "criu.h"
#include "log.h"
#include "migrate_int.h"
#include "proto.h"
#include "restore.h"
#include "session.h"
#include "stream.h"
#include "stats.h"
/* A whole transfer may take long on a slow link; rsync's own --timeout ends a stalled one. */
#define XFER_TIMEOUT_MS (6 * 3600 * 1000)
/* The restore reply may come this long after our own --timeout: the destination's restore
 * has its own limit; when ours passes first we hang up and it stops (see request_restore). */
#define RESTORE_REPLY_MARGIN_MS 10000

static volatile sig_atomic_t stop_flag;

void migrate_request_stop(void)
{
	stop_flag = 1;
}

int migrate_stop_requested(void)
{
	return stop_flag != 0;
}

/* Fails with "interrupted" when a stop was requested. */
static int check_stop(struct mig_err **err)
{
	if (stop_flag)
		return mig_err_set(err, 0, "interrupted by a signal");
	return 0;
}

static int local_checks(struct mig *m, struct mig_err **err)
{
	const struct src_opts *o = m->o;
	if (bundle_load(o->base_dir, o->container, &m->b, err) < 0 ||
	    (m->lock_fd = bundle_lock(&m->b, err)) < 0)
		return mig_err_wrap(err, "source");
	if (!o->no_rootfs_sync && strchr(m->b.root_path, '/'))
		return mig_err_set(err, 0,
				   "the rootfs of %s is at '%s', outside the bundle: it cannot be "
				   "synced; use --no-rootfs-sync if both hosts share it",
				   o->container, m->b.root_path);
	m->image = bundle_path(&m->b, "image");
	m->parent = bundle_path(&m->b, "parent");
	enum runc_status st;
	if (runc_state(&m->runc, o->container, &st, err) < 0)
		return mig_err_wrap(err, "source");
	if (st != RUNC_RUNNING)
		return mig_err_set(err, 0,
				   "container %s is %s on this host (runc root %s), not "
				   "running",
				   o->container, runc_status_name(st),
				   m->runc.root ? m->runc.root : RUNC_DEFAULT_ROOT);
	return 0;
}

/* What the technique needs on this host, checked before anything is frozen. */
static int technique_checks(struct mig *m, struct mig_err **err)
{
	if (mig_precopy(m)) {
		int ok = 0;
		if (criu_has_feature(m->o->criu, "mem_dirty_track", &ok, err) < 0)
			return -1;
		if (!ok)
			return mig_err_set(
			    err, 0,
			    "%s needs memory dirty tracking, which this host lacks "
			    "(criu check --feature mem_dirty_track fails: kernel option "
			    "%s); use cold or post-copy",
			    technique_name(m->o->technique),
			    criu_feature_kernel_option("mem_dirty_track"));
	}
	if (mig_lazy(m)) {
		char *note = NULL;
		if (criu_pipe_size_prepare(m->o->no_sysctl, "/proc/sys", &note, err) < 0)
			return -1;
		if (note)
			log_info("%s", note);
		free(note);
	}
	return 0;
}

/* SSH (unless --direct), the control channel, hello and the token: session.h. */
static int open_session(struct mig *m, struct mig_err **err)
{
	struct ctl_session *cs = &m->sess;
	if (session_ssh(cs, err) < 0 || session_control(cs, err) < 0 || session_hello(cs, err) < 0)
		return -1;
	m->dst_bundle = mig_strdup_printf("%s/%s", cs->base_dir, m->o->container);
	log_debug("destination: migrate-dst %s, base dir %s",
		  cs->dst_version ? cs->dst_version : "?", cs->base_dir);
	return 0;
}

static int hello_and_check(struct mig *m, struct mig_err **err)
{
	if (open_session(m, err) < 0)
		return -1;
	cJSON *req = proto_msg("check");
	cJSON_AddStringToObject(req, "name", m->o->container);
	cJSON_AddStringToObject(req, "technique", technique_name(m->o->technique));
	if (m->o->replace)
		cJSON_AddBoolToObject(req, "replace", 1);
	if (m->o->sync_bundle)
		cJSON_AddBoolToObject(req, "sync_bundle", 1);
	session_sign(&m->sess, req);
	cJSON *rep = proto_call(m->sess.ctl, req, CONTROL_TIMEOUT_MS, err);
	cJSON_Delete(req);
	if (rep)
		proto_get_bool(rep, "send_bundle", &m->send_bundle, 0, NULL);
	cJSON_Delete(rep);
	return rep ? 0 : -1;
}

/* The rsync sources: the rootfs (unless shared) and the image dir. */
static size_t xfer_sources(struct mig *m, const char *srcs[3])
{
	size_t n = 0;
	if (!m->o->no_rootfs_sync)
		srcs[n++] = m->b.rootfs;
	srcs[n++] = m->image;
	return n;
}

/* Before the freeze: a fresh, empty image dir, and a first rsync of the rootfs while the
 * container still runs (also proving that rsync and ssh work before anything is frozen). */
static int presync(struct mig *m, struct mig_err **err)
{
	if (restore_clear_dir(&m->b, "image", err) < 0 || fs_mkdir_p(m->image, 0700, err) < 0)
		return -1;
	const char *srcs[3];
	size_t n = xfer_sources(m, srcs);
	/* --sync-bundle, and the destination has none: its config goes with the first pass. */
	char *config = m->send_bundle ? bundle_path(&m->b, "config.json") : NULL;
	if (config) {
		log_info("sending the bundle of %s (config.json%s) to %s", m->o->container,
			 m->o->no_rootfs_sync ? "" : " and rootfs", m->o->dest_host);
		srcs[n++] = config;
	}
	struct xfer_stats st;
	m->xfer.label = "pre-sync";
	/* Taken before the pass: whatever changes from now on differs from it. */
	if (!m->o->transfer_rsync && !m->o->no_rootfs_sync) {
		struct mig_err *e = NULL;
		m->have_digest = fs_tree_digest(m->b.rootfs, m->rootfs_digest, &e) == 0;
		if (!m->have_digest)
			log_warn("%s: the final rootfs pass will run", mig_err_msg(e));
		mig_err_free(&e);
	}
	int r = xfer_rsync(&m->xfer, XFER_ROOTFS, srcs, n, m->dst_bundle, &st, err);
	free(config);
	if (r < 0)
		return mig_err_wrap(err, "first rootfs sync");
	m->r->sync_ms = st.elapsed_ms;
	m->r->sync_bytes = st.bytes_sent;
	return 0;
}

static int preflight(struct mig *m, struct mig_err **err)
{
	if (local_checks(m, err) < 0 || technique_checks(m, err) < 0 || check_stop(err) < 0 ||
	    hello_and_check(m, err) < 0 || xfer_master_start(&m->xfer, &m->master, err) < 0 ||
	    (mig_lazy(m) && postcopy_prepare(m, err) < 0) || check_stop(err) < 0 ||
	    presync(m, err) < 0)
		return -1;
	return check_stop(err);
}

/* After a checkpoint that failed or hung: CRIU was killed with the container frozen, or
 * CRIU gave up; bring the container back to running where runc still knows it. */
static enum runc_status recover_source(struct mig *m, int killed)
{
	struct mig_err *e = NULL;
	enum runc_status st = RUNC_UNKNOWN;
	int pid = 0, removed = 0;
	if (runc_state_pid(&m->runc, m->o->container, &st, &pid, &e) == 0 && st == RUNC_PAUSED &&
	    runc_resume(&m->runc, m->o->container, &e) == 0)
		runc_state_pid(&m->runc, m->o->container, &st, &pid, &e);
	/* CRIU unlocks the network itself when it fails; not when we had to kill it. */
	if (!e && killed && pid > 0 && criu_unlock_network(pid, &removed, &e) == 0 && removed)
		log_info("removed the network lock the stopped CRIU left in %s", m->o->container);
	if (e) {
		log_warn("recovering %s after the failed checkpoint: %s", m->o->container,
			 mig_err_msg(e));
		mig_err_free(&e);
	}
	return st;
}

/* After a failure past the checkpoint: restore the container on the source from its own
 * image.  Returns the exit code, with the report's error saying what happened. */
static int rollback(struct mig *m, struct mig_err *cause)
{
	char *msg = NULL;
	struct mig_err *e = NULL;
	int rc = EXIT_ROLLED_BACK;
	if (mig_lazy(m)) {
		/* A lazy image holds no memory pages: they were to come from the page server.
		 * Stopping it is what CRIU undoes the dump on; the container then runs on. */
		postcopy_abort(m);
		enum runc_status st = recover_source(m, 1);
		if (st == RUNC_RUNNING) {
			msg = mig_strdup_printf("%s; the container is running on this host again",
						mig_err_msg(cause));
		} else {
			rc = EXIT_NEEDS_HUMAN;
			msg = mig_strdup_printf("%s; the container is %s on this host and its lazy "
						"image (in %s) has no memory pages to restore from",
						mig_err_msg(cause), runc_status_name(st), m->image);
		}
		report_fail(m->r, rc, msg);
		free(msg);
		return rc;
	}
	log_warn("%s; restoring %s on this host", mig_err_msg(cause), m->o->container);
	char *work = bundle_path(&m->b, "work");
	if (restore_container(&m->runc, m->o->container, &m->b, m->image, work, 0, &e) == 0) {
		msg = mig_strdup_printf("%s; the container was restored and runs on this host "
					"again",
					mig_err_msg(cause));
	} else {
		rc = EXIT_NEEDS_HUMAN;
		msg = mig_strdup_printf("%s; restoring it on this host failed too (%s); its "
					"checkpoint image is in %s",
					mig_err_msg(cause), mig_err_msg(e), m->image);
	}
	report_fail(m->r, rc, msg);
	free(msg);
	free(work);
	mig_err_free(&e);
	return rc;
}

/* A dump (pre-dump or final) failed or hung: CRIU normally resumes the container; make sure
 * it runs, and report.  Returns the exit code. */
static int dump_failed(struct mig *m, struct mig_err *e, int timed_out, const char *what)
{
	enum runc_status st = recover_source(m, timed_out);
	if (timed_out)
		mig_err_wrap(&e,
			     "%s did not finish in %d s and was stopped (if CRIU hangs after "
			     "'new_sp=' in dump.log, this host has no working hardware "
			     "breakpoints: run with CRIU_FAULT=130 in the environment)",
			     what, m->o->timeout_s);
	else
		mig_err_wrap(&e, "%s", what);
	char *msg;
	int rc;
	if (st == RUNC_RUNNING) {
		msg = mig_strdup_printf("%s; the container is running on this host again",
					mig_err_msg(e));
		rc = EXIT_ROLLED_BACK;
	} else {
		msg = mig_strdup_printf("%s; the container is %s on this host: check it with "
					"runc state %s",
					mig_err_msg(e), runc_status_name(st), m->o->container);
		rc = EXIT_NEEDS_HUMAN;
	}
	report_fail(m->r, rc, msg);
	free(msg);
	mig_err_free(&e);
	return rc;
}

/* Freezes the container with runc pause before the dump: runc returns as soon as the cgroup
 * is frozen, while CRIU's own freezer loop (cgroup v1) sleeps 100 ms per attempt, which
 * showed as ~100 ms more downtime in most dumps here.  CRIU dumps a frozen cgroup as it
 * finds it, and a failed dump leaves it paused, which recover_source resumes.  Not
 * essential: a failing pause is reported and CRIU freezes the container itself. */
static void pause_first(struct mig *m)
{
	struct mig_err *e = NULL;
	if (runc_pause(&m->runc, m->o->container, &e) < 0) {
		log_warn("%s; CRIU freezes the container itself", mig_err_msg(e));
		mig_err_free(&e);
	}
}

/* The final dump: the freeze starts here. */
static int checkpoint(struct mig *m)
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
				      .parent_path = m->parent_rel[0] ? m->parent_rel : NULL};
		r = runc_checkpoint(&m->runc, m->o->container, &c, &timed_out, &e);
	}
	m->r->dump_ms = proc_now_ms() - t0;
	if (r == 0)
		return 0;
	dump_failed(m, e, timed_out, "checkpoint");
	return -1;
}

/* The final rsync, inside the downtime: the rootfs delta and (with --transfer rsync) the
 * image.  A rootfs unchanged since the first pass (same digest) needs none. */
static int transfer(struct mig *m, struct mig_err **err)
{
	const char *srcs[3];
	size_t n = 0;
	if (m->o->transfer_rsync) {
		n = xfer_sources(m, srcs);
	} else if (!m->o->no_rootfs_sync) {
		unsigned char now[32];
		struct mig_err *e = NULL;
		if (m->have_digest && fs_tree_digest(m->b.rootfs, now, &e) == 0 &&
		    !memcmp(now, m->rootfs_digest, sizeof(now)))
			log_debug("the rootfs did not change since the first pass");
		else
			srcs[n++] = m->b.rootfs;
		mig_err_free(&e);
	}
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
static int stream_image(struct mig *m, cJSON *req, struct mig_err **err)
{
	/* Level 1: the fastest; at 20 Mbit/s the link, not the CPU, is the limit. */
	struct stream_tx tx = {.c = m->sess.ctl,
			       .sign = sign_cb,
			       .sign_ctx = &m->sess,
			       .progress = m->xfer.progress,
			       .zstd_level = m->o->compress == COMPRESS_NONE ? 0 : 1};
	struct stream_sum sum;
	long long t0 = proc_now_ms();
	if (stream_send_dir(&tx, m->image, &sum, err) < 0)
		return mig_err_wrap(err, "sending the image");
	m->r->xfer_ms += proc_now_ms() - t0;
	m->r->xfer_bytes += sum.wire;
	stream_sum_to_json(&sum, req);
	return 0;
}

/* The destination's CRIU restore statistics, as its reply carries them. */
static void reply_restore_stats(struct mig *m, const cJSON *rep)
{
	struct criu_restore_stats st = {.present = 1};
	double v;
	st.restore_us = proto_get_num(rep, "criu_restore_us", &v, 0, NULL) == 0 ? (long long)v : -1;
	st.forking_us = proto_get_num(rep, "forking_us", &v, 0, NULL) == 0 ? (long long)v : -1;
	st.pages_restored =
	    proto_get_num(rep, "pages_restored", &v, 0, NULL) == 0 ? (long long)v : -1;
	report_add_restore_stats(m->r, &st);
}

/* CRIU's statistics of the final dump (stats-dump in the image dir), read once the
 * downtime is over; a missing file costs only the numbers. */
static void add_dump_stats(struct mig *m)
{
	struct criu_dump_stats st;
	struct mig_err *e = NULL;
	if (stats_read_dump(m->image, &st, &e) == 0)
		report_add_dump_stats(m->r, &st);
	else
		log_warn("%s", mig_err_msg(e));
	mig_err_free(&e);
}

/* Asks the destination to restore.  *unknown is set when the connection broke before the
 * answer: a destination handler that died leaves its runc restore running, so the
 * container may or may not run there.  (When we stop waiting ourselves, the handler
 * notices our hang-up and stops the restore: *unknown stays 0.) */
static int request_restore(struct mig *m, int *unknown, struct mig_err **err)
{
	cJSON *req = proto_msg("restore");
	cJSON_AddStringToObject(req, "name", m->o->container);
	cJSON_AddStringToObject(req, "technique", technique_name(m->o->technique));
	if (mig_lazy(m)) {
		cJSON_AddBoolToObject(req, "lazy", 1);
		cJSON_AddStringToObject(req, "page_server_addr", m->ps_addr);
		cJSON_AddNumberToObject(req, "page_server_port", m->o->page_server_port);
	}
	*unknown = 0;
	struct mig_err *e = NULL;
	/* A handler that died (migrate-dst killed) was asked for nothing: safe to roll back.
	 * Past this point a broken connection leaves the outcome unknown. */
	if (!m->sess.ctl->alive(m->sess.ctl)) {
		cJSON_Delete(req);
		return mig_err_set(
		    err, 0,
		    "the control connection to migrate-dst closed before the restore "
		    "request (was migrate-dst stopped?)");
	}
	/* A stop asked while the image streamed: the restore is not asked for. */
	if ((!m->o->transfer_rsync && stream_image(m, req, &e) < 0) || check_stop(&e) < 0) {
		cJSON_Delete(req);
		*err = e;
		return -1;
	}
	session_sign(&m->sess, req);
	if (proto_send(m->sess.ctl, req, &e) < 0) {
		cJSON_Delete(req);
		*err = e;
		return mig_err_wrap(err, "restore request");
	}
	cJSON_Delete(req);
	cJSON *rep = proto_recv(m->sess.ctl, m->o->timeout_s * 1000 + RESTORE_REPLY_MARGIN_MS, &e);
	if (!rep) {
		*unknown = !mig_err_timed_out(e);
		*err = e;
		return mig_err_wrap(err, "no answer to the restore request");
	}
	int ok = 0;
	double ms = 0;
	proto_get_bool(rep, "ok", &ok, 0, NULL);
	if (!ok) {
		const char *why = proto_get_str(rep, "error", 0, NULL);
		mig_err_set(err, 0, "%s", why ? why : "destination refused the restore");
	} else {
		if (proto_get_num(rep, "restore_ms", &ms, 0, NULL) == 0)
			m->r->restore_ms = (long long)ms;
		reply_restore_stats(m, rep);
	}
	cJSON_Delete(rep);
	return ok ? 0 : -1;
}

/* Confirms the destination's restore: a destination that gets no commit removes its copy.
 * *unknown is set unless the destination answered: a broken connection may mean its
 * handler died, and then nobody removes the copy there. */
static int commit(struct mig *m, int *unknown, struct mig_err **err)
{
	cJSON *req = proto_msg("commit");
	cJSON_AddStringToObject(req, "name", m->o->container);
	session_sign(&m->sess, req);
	*unknown = 1;
	int r = proto_send(m->sess.ctl, req, err);
	cJSON_Delete(req);
	if (r < 0)
		return mig_err_wrap(err, "commit");
	cJSON *rep = proto_recv(m->sess.ctl, CONTROL_TIMEOUT_MS, err);
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

/* Closes the control channel, which tells the destination to stop its restore. */
static void hang_up(struct mig *m)
{
	if (m->sess.ctl)
		m->sess.ctl->close(m->sess.ctl);
	m->sess.ctl = NULL;
}

/* The destination may or may not run the container: only a person can tell. */
static int unknown_outcome(struct mig *m, struct mig_err *e)
{
	char *msg = mig_strdup_printf("%s: the container may or may not be running on %s; check "
				      "`runc list` there before doing anything; its checkpoint "
				      "image is in %s on this host",
				      mig_err_msg(e), m->o->dest_host, m->image);
	report_fail(m->r, EXIT_NEEDS_HUMAN, msg);
	free(msg);
	mig_err_free(&e);
	return EXIT_NEEDS_HUMAN;
}

/* The pages did not all reach the destination after its restore.  When the page server
 * fails, CRIU resumes the container here; the destination discards its copy. */
static int lazy_failed(struct mig *m, struct mig_err *e)
{
	enum runc_status st = recover_source(m, 0);
	int rc = st == RUNC_RUNNING ? EXIT_ROLLED_BACK : EXIT_NEEDS_HUMAN;
	char *msg;
	if (rc == EXIT_ROLLED_BACK)
		msg = mig_strdup_printf("post-copy: %s; the container is running on this host "
					"again",
					mig_err_msg(e));
	else
		msg = mig_strdup_printf("post-copy: %s; the container is %s on this host and "
					"its memory did not all reach %s: check both hosts "
					"(runc list) and the CRIU logs in the bundle's work dir",
					mig_err_msg(e), runc_status_name(st), m->o->dest_host);
	report_fail(m->r, rc, msg);
	free(msg);
	mig_err_free(&e);
	return rc;
}

static int freeze_and_move(struct mig *m)
{
	struct mig_err *e = NULL;
	long long t_freeze = proc_now_ms();
	if (checkpoint(m) < 0)
		return m->r->exit_code;
	/* A stop asked during the dump: no point sending an image we will not use. */
	if (check_stop(&e) < 0 || transfer(m, &e) < 0 || check_stop(&e) < 0) {
		int rc = rollback(m, e);
		mig_err_free(&e);
		return rc;
	}
	/* Without an answer the source gives up and restores its own copy: the destination
	 * stops its restore when we hang up, or removes the copy we never commit. */
	int unknown = 0, r = request_restore(m, &unknown, &e);
	if (r == 0)
		m->r->downtime_ms = proc_now_ms() - t_freeze;
	if (r < 0 || commit(m, &unknown, &e) < 0) {
		if (unknown)
			return unknown_outcome(m, e);
		hang_up(m);
		int rc = rollback(m, e);
		mig_err_free(&e);
		return rc;
	}
	if (mig_lazy(m) && postcopy_finish(m, &e) < 0)
		return lazy_failed(m, e);
	m->r->dump_bytes = fs_tree_size(m->image);
	add_dump_stats(m);
	m->r->ok = 1;
	m->r->exit_code = EXIT_MIGRATED;
	return EXIT_MIGRATED;
}

static void mig_free(struct mig *m)
{
	postcopy_abort(m);
	xfer_master_stop(&m->xfer, &m->master);
	free(m->parent);
	session_close(&m->sess);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	bundle_free(&m->b);
	free(m->image);
	free(m->dst_bundle);
}

int migrate_run(const struct src_opts *o, struct mig_report *r)
{
	struct mig m = {.o = o, .r = r, .lock_fd = -1};
	session_init(&m.sess, o);
	m.t_start = proc_now_ms();
	m.runc = (struct runc_ctx){.runc = o->runc,
				   .root = o->runc_root,
				   .criu = strcmp(o->criu, "criu") ? o->criu : NULL,
				   .timeout_ms = o->timeout_s * 1000};
	m.xfer = (struct xfer_ctx){.host = o->dest_host,
				   .user = o->ssh_user,
				   .ssh_port = o->ssh_port,
				   .identity = o->identity,
				   .known_hosts = o->known_hosts,
				   .timeout_ms = XFER_TIMEOUT_MS,
				   .compress = o->compress ? compress_name(o->compress) : NULL,
				   .progress =
				       !o->no_progress && o->verbose >= 0 && isatty(STDERR_FILENO)};
	snprintf(r->peer, sizeof(r->peer), "%s", o->dest_host);
	struct mig_err *e = NULL;
	int rc;
	if (preflight(&m, &e) < 0) {
		mig_err_wrap(&e, "refused before touching the container (it still runs here)");
		report_fail(r, EXIT_REFUSED, mig_err_msg(e));
		mig_err_free(&e);
		rc = EXIT_REFUSED;
	} else if (mig_precopy(&m) && precopy_rounds(&m, &e) < 0) {
		rc = dump_failed(&m, e, 0, "pre-copy");
	} else {
		rc = freeze_and_move(&m);
	}
	r->total_ms = proc_now_ms() - m.t_start;
	mig_free(&m);
	return rc;
}
