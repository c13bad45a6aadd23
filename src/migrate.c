#include "migrate.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "restore.h"
#include "runc.h"
#include "ssh.h"
#include "transfer.h"

#define CONTROL_TIMEOUT_MS 30000
/* A whole transfer may take long on a slow link; rsync's own --timeout ends a stalled one. */
#define XFER_TIMEOUT_MS (6 * 3600 * 1000)

static volatile sig_atomic_t stop_flag;

void migrate_request_stop(void)
{
	stop_flag = 1;
}

struct mig {
	const struct src_opts *o;
	struct mig_report *r;
	struct runc_ctx runc;
	struct bundle_info b;
	char *image; /* BUNDLE/image on the source */
	struct mig_ssh *ssh;
	struct mig_conn *ctl;
	struct xfer_ctx xfer;
	char *dst_bundle; /* the bundle's path on the destination */
	long long t_start;
};

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
	if (o->technique != TECH_COLD)
		return mig_err_set(err, 0, "technique %s is not implemented yet (use cold)",
				   technique_name(o->technique));
	if (bundle_load(o->base_dir, o->container, &m->b, err) < 0)
		return mig_err_wrap(err, "source");
	if (!o->no_rootfs_sync && strchr(m->b.root_path, '/'))
		return mig_err_set(err, 0,
				   "the rootfs of %s is at '%s', outside the bundle: it cannot be "
				   "synced; use --no-rootfs-sync if both hosts share it",
				   o->container, m->b.root_path);
	m->image = bundle_path(&m->b, "image");
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

static int open_control(struct mig *m, struct mig_err **err)
{
	const struct src_opts *o = m->o;
	if (o->direct) {
		m->ctl = conn_tcp_connect(o->dest_host, o->port, CONTROL_TIMEOUT_MS, err);
		return m->ctl ? 0 : mig_err_wrap(err, "control channel");
	}
	struct ssh_opts so = {.host = o->dest_host,
			      .port = o->ssh_port,
			      .user = o->ssh_user,
			      .identity = o->identity,
			      .known_hosts = o->known_hosts,
			      .timeout_s = 30};
	m->ssh = mig_ssh_connect(&so, err);
	if (!m->ssh)
		return -1;
	m->ctl = mig_ssh_forward(m->ssh, "127.0.0.1", o->port, err);
	return m->ctl ? 0 : -1;
}

static const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

static int hello_and_check(struct mig *m, struct mig_err **err)
{
	cJSON *req = proto_msg("hello");
	cJSON *rep = proto_call(m->ctl, req, CONTROL_TIMEOUT_MS, err);
	cJSON_Delete(req);
	if (!rep)
		return mig_err_wrap(err, "hello to the destination");
	const char *base = proto_get_str(rep, "base_dir", 1, err);
	if (base)
		m->dst_bundle = mig_strdup_printf("%s/%s", base, m->o->container);
	log_debug("destination: runc %s, criu %s, base dir %s",
		  str_or(proto_get_str(rep, "runc_version", 0, NULL), "?"),
		  str_or(proto_get_str(rep, "criu_version", 0, NULL), "?"), base ? base : "?");
	cJSON_Delete(rep);
	if (!base)
		return mig_err_wrap(err, "hello reply");
	req = proto_msg("check");
	cJSON_AddStringToObject(req, "name", m->o->container);
	cJSON_AddStringToObject(req, "technique", technique_name(m->o->technique));
	rep = proto_call(m->ctl, req, CONTROL_TIMEOUT_MS, err);
	cJSON_Delete(req);
	cJSON_Delete(rep);
	return rep ? 0 : -1;
}

/* The rsync sources: the rootfs (unless shared) and the image dir. */
static size_t xfer_sources(struct mig *m, const char *srcs[2])
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
	const char *srcs[2];
	size_t n = xfer_sources(m, srcs);
	struct xfer_stats st;
	if (xfer_rsync(&m->xfer, XFER_ROOTFS, srcs, n, m->dst_bundle, &st, err) < 0)
		return mig_err_wrap(err, "first rootfs sync");
	m->r->sync_ms = st.elapsed_ms;
	m->r->sync_bytes = st.bytes_sent;
	return 0;
}

static int preflight(struct mig *m, struct mig_err **err)
{
	if (local_checks(m, err) < 0 || check_stop(err) < 0 || open_control(m, err) < 0 ||
	    hello_and_check(m, err) < 0 || check_stop(err) < 0 || presync(m, err) < 0)
		return -1;
	return check_stop(err);
}

/* After a checkpoint that failed or hung: CRIU was killed with the container frozen, or
 * CRIU gave up; bring the container back to running where runc still knows it. */
static enum runc_status recover_source(struct mig *m)
{
	struct mig_err *e = NULL;
	enum runc_status st = RUNC_UNKNOWN;
	if (runc_state(&m->runc, m->o->container, &st, &e) == 0 && st == RUNC_PAUSED &&
	    runc_resume(&m->runc, m->o->container, &e) == 0)
		runc_state(&m->runc, m->o->container, &st, &e);
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
	log_warn("%s; restoring %s on this host", mig_err_msg(cause), m->o->container);
	char *work = bundle_path(&m->b, "work");
	int rc = EXIT_ROLLED_BACK;
	if (restore_container(&m->runc, m->o->container, &m->b, m->image, work, &e) == 0) {
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

static int checkpoint(struct mig *m)
{
	struct mig_err *e = NULL;
	struct runc_ckpt c = {.image_path = m->image};
	int timed_out = 0;
	long long t0 = proc_now_ms();
	int r = runc_checkpoint(&m->runc, m->o->container, &c, &timed_out, &e);
	m->r->dump_ms = proc_now_ms() - t0;
	if (r == 0)
		return 0;
	enum runc_status st = recover_source(m);
	char *msg;
	if (timed_out)
		mig_err_wrap(&e,
			     "checkpoint did not finish in %d s and was stopped (if CRIU "
			     "hangs after 'new_sp=' in dump.log, this host has no working "
			     "hardware breakpoints: run with CRIU_FAULT=130 in the "
			     "environment)",
			     m->o->timeout_s);
	else
		mig_err_wrap(&e, "checkpoint");
	if (st == RUNC_RUNNING) {
		msg = mig_strdup_printf("%s; the container is running on this host again",
					mig_err_msg(e));
		report_fail(m->r, EXIT_ROLLED_BACK, msg);
	} else {
		msg = mig_strdup_printf("%s; the container is %s on this host: check it with "
					"runc state %s",
					mig_err_msg(e), runc_status_name(st), m->o->container);
		report_fail(m->r, EXIT_NEEDS_HUMAN, msg);
	}
	free(msg);
	mig_err_free(&e);
	return -1;
}

static int transfer(struct mig *m, struct mig_err **err)
{
	const char *srcs[2];
	size_t n = xfer_sources(m, srcs);
	struct xfer_stats st;
	int r = xfer_rsync(&m->xfer, XFER_ROOTFS, srcs, n, m->dst_bundle, &st, err);
	m->r->xfer_ms = st.elapsed_ms;
	m->r->xfer_bytes = st.bytes_sent;
	return r < 0 ? mig_err_wrap(err, "transfer") : 0;
}

/* Asks the destination to restore.  *unknown is set when the answer never came: the
 * destination may or may not have restored the container. */
static int request_restore(struct mig *m, int *unknown, struct mig_err **err)
{
	cJSON *req = proto_msg("restore");
	cJSON_AddStringToObject(req, "name", m->o->container);
	cJSON_AddStringToObject(req, "technique", technique_name(m->o->technique));
	*unknown = 0;
	struct mig_err *e = NULL;
	if (proto_send(m->ctl, req, &e) < 0) {
		cJSON_Delete(req);
		*err = e;
		return mig_err_wrap(err, "restore request");
	}
	cJSON_Delete(req);
	cJSON *rep = proto_recv(m->ctl, m->o->timeout_s * 1000 + CONTROL_TIMEOUT_MS, &e);
	if (!rep) {
		*unknown = 1;
		*err = e;
		return mig_err_wrap(err, "no answer to the restore request");
	}
	int ok = 0;
	double ms = 0;
	proto_get_bool(rep, "ok", &ok, 0, NULL);
	if (!ok) {
		const char *why = proto_get_str(rep, "error", 0, NULL);
		mig_err_set(err, 0, "%s", why ? why : "destination refused the restore");
	} else if (proto_get_num(rep, "restore_ms", &ms, 0, NULL) == 0) {
		m->r->restore_ms = (long long)ms;
	}
	cJSON_Delete(rep);
	return ok ? 0 : -1;
}

static int freeze_and_move(struct mig *m)
{
	struct mig_err *e = NULL;
	long long t_freeze = proc_now_ms();
	if (checkpoint(m) < 0)
		return m->r->exit_code;
	if (transfer(m, &e) < 0 || check_stop(&e) < 0) {
		int rc = rollback(m, e);
		mig_err_free(&e);
		return rc;
	}
	int unknown = 0;
	if (request_restore(m, &unknown, &e) < 0) {
		int rc;
		if (unknown) {
			char *msg = mig_strdup_printf(
			    "%s: the container may or may not be running on %s; check "
			    "`runc list` there before doing anything; its checkpoint image "
			    "is in %s on this host",
			    mig_err_msg(e), m->o->dest_host, m->image);
			report_fail(m->r, EXIT_NEEDS_HUMAN, msg);
			free(msg);
			rc = EXIT_NEEDS_HUMAN;
		} else {
			rc = rollback(m, e);
		}
		mig_err_free(&e);
		return rc;
	}
	m->r->downtime_ms = proc_now_ms() - t_freeze;
	m->r->dump_bytes = fs_tree_size(m->image);
	m->r->ok = 1;
	m->r->exit_code = EXIT_MIGRATED;
	return EXIT_MIGRATED;
}

static void mig_free(struct mig *m)
{
	if (m->ctl)
		m->ctl->close(m->ctl);
	mig_ssh_close(m->ssh);
	bundle_free(&m->b);
	free(m->image);
	free(m->dst_bundle);
}

int migrate_run(const struct src_opts *o, struct mig_report *r)
{
	struct mig m = {.o = o, .r = r};
	m.t_start = proc_now_ms();
	m.runc = (struct runc_ctx){
	    .runc = o->runc, .root = o->runc_root, .timeout_ms = o->timeout_s * 1000};
	m.xfer = (struct xfer_ctx){.host = o->dest_host,
				   .user = o->ssh_user,
				   .ssh_port = o->ssh_port,
				   .identity = o->identity,
				   .known_hosts = o->known_hosts,
				   .timeout_ms = XFER_TIMEOUT_MS};
	snprintf(r->peer, sizeof(r->peer), "%s", o->dest_host);
	struct mig_err *e = NULL;
	int rc;
	if (preflight(&m, &e) < 0) {
		mig_err_wrap(&e, "refused before touching the container (it still runs here)");
		report_fail(r, EXIT_REFUSED, mig_err_msg(e));
		mig_err_free(&e);
		rc = EXIT_REFUSED;
	} else {
		rc = freeze_and_move(&m);
	}
	r->total_ms = proc_now_ms() - m.t_start;
	mig_free(&m);
	return rc;
}
