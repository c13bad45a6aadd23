#include "dst.h"
#include "dst_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "criu.h"
#include "facts.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "restore.h"
#include "stats.h"

/* A peer that starts a message must finish it within this time (a slow sender is dropped);
 * between messages it may be silent for as long as a migration step can take. */
#define FRAME_TIMEOUT_MS 10000
/* How long the source may take to confirm a successful restore ("commit"); without it the
 * restored copy is removed, since the source may have given up and restored its own. */
#define COMMIT_WAIT_MS 30000

int dst_ctx_init(struct dst_ctx *d, const struct dst_opts *o, struct mig_err **err)
{
	memset(d, 0, sizeof(*d));
	d->o = o;
	d->runc.runc = o->runc;
	d->runc.root = o->runc_root;
	d->runc.criu = strcmp(o->criu, "criu") ? o->criu : NULL;
	d->runc.timeout_ms = o->timeout_s * 1000;
	char real[PATH_MAX];
	if (!realpath(o->base_dir, real))
		return mig_err_set(err, errno, "base dir %s", o->base_dir);
	d->base_dir = mig_xstrdup(real);
	d->auth_on = !o->insecure;
	if (d->auth_on && auth_load_or_create(o->token_file, d->token, err) < 0)
		return -1;
	struct mig_err *e = NULL;
	if (runc_version(&d->runc, &d->runc_version, &e) < 0) {
		log_warn("%s", mig_err_msg(e));
		mig_err_free(&e);
	}
	if (criu_version(&d->criu_version, &e) < 0) {
		log_warn("%s", mig_err_msg(e));
		mig_err_free(&e);
	}
	return 0;
}

void dst_ctx_free(struct dst_ctx *d)
{
	free(d->base_dir);
	free(d->runc_version);
	free(d->criu_version);
}

static cJSON *reply_err(struct mig_err **e)
{
	cJSON *r = proto_reply(mig_err_msg(*e));
	mig_err_free(e);
	return r;
}

static void add_str_or_null(cJSON *o, const char *key, const char *val)
{
	if (val)
		cJSON_AddStringToObject(o, key, val);
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *do_hello(struct dst_ctx *d, struct dst_session *s)
{
	struct mig_err *e = NULL;
	if (auth_nonce(s->nonce, &e) < 0)
		return reply_err(&e);
	s->next_seq = 1;
	cJSON *r = proto_reply(NULL);
	cJSON_AddBoolToObject(r, "auth", d->auth_on);
	if (d->auth_on) {
		cJSON_AddStringToObject(r, "nonce", s->nonce);
		cJSON_AddStringToObject(r, "token_file", d->o->token_file);
	}
	cJSON_AddStringToObject(r, "base_dir", d->base_dir);
	add_str_or_null(r, "runc_version", d->runc_version);
	add_str_or_null(r, "criu_version", d->criu_version);
	cJSON_AddStringToObject(r, "version", MIG_VERSION);
	return r;
}

/* The container name of a request, validated: it becomes a path component and runc's id. */
static const char *req_name(const cJSON *req, struct mig_err **err)
{
	const char *name = proto_get_str(req, "name", 1, err);
	if (name && !cli_valid_name(name)) {
		mig_err_set(err, 0, "bad container name (1-128 of A-Z a-z 0-9 _ . -)");
		return NULL;
	}
	return name;
}

/* One migration per container on this host: a second source is refused at its check. */
static int lock_target(struct dst_session *s, const struct bundle_info *b, struct mig_err **err)
{
	if (s->lock_fd >= 0)
		return 0;
	s->lock_fd = bundle_lock(b, err);
	return s->lock_fd < 0 ? -1 : 0;
}

/* A same-named container here, which the source asked us to remove (--replace): the
 * experiment loops' "kill, delete, rm -rf" before every run. */
static int replace_existing(struct dst_ctx *d, const char *name, enum runc_status st,
			    struct mig_err **err)
{
	log_info("--replace: removing the %s container %s", runc_status_name(st), name);
	if (runc_kill(&d->runc, name, err) < 0 || runc_remove_leftover(&d->runc, name, err) < 0)
		return mig_err_wrap(err, "removing the existing %s for --replace", name);
	enum runc_status now;
	if (runc_state(&d->runc, name, &now, err) < 0)
		return -1;
	if (now != RUNC_ABSENT)
		return mig_err_set(err, 0, "the existing %s is still %s after removing it", name,
				   runc_status_name(now));
	return 0;
}

/* The bundle exists here, is ours to migrate into (locked), and runc knows no container of
 * that name (or it was removed, when the request says "replace"). */
static int check_target(struct dst_ctx *d, struct dst_session *s, const cJSON *req,
			const char *name, struct bundle_info *b, struct mig_err **err)
{
	int replace = 0;
	if (req)
		proto_get_bool(req, "replace", &replace, 0, NULL);
	if (bundle_load(d->base_dir, name, b, err) < 0) {
		char *dir = mig_strdup_printf("%s/%s", d->base_dir, name);
		if (!fs_exists(dir)) {
			mig_err_free(err);
			mig_err_set(err, 0,
				    "no bundle directory %s (copy the bundle there, see "
				    "docs/bundles.md, or use --sync-bundle)",
				    dir);
		}
		free(dir);
		return mig_err_wrap(err, "destination");
	}
	enum runc_status st;
	int r = lock_target(s, b, err);
	if (r == 0)
		r = runc_state(&d->runc, name, &st, err);
	if (r == 0 && st != RUNC_ABSENT && replace)
		r = replace_existing(d, name, st, err);
	else if (r == 0 && st != RUNC_ABSENT)
		r = mig_err_set(err, 0,
				"a container named %s already exists on the destination (%s); "
				"remove it there first (runc%s%s delete -f %s), or use --replace",
				name, runc_status_name(st), d->runc.root ? " --root " : "",
				d->runc.root ? d->runc.root : "", name);
	if (r < 0) {
		bundle_free(b);
		return mig_err_wrap(err, "destination");
	}
	return 0;
}

/* The request's technique ("cold" when absent). */
static int req_technique(const cJSON *req, enum technique *t, struct mig_err **err)
{
	const char *tech = proto_get_str(req, "technique", 0, NULL);
	*t = TECH_COLD;
	if (tech && technique_parse(tech, t) < 0)
		return mig_err_set(err, 0, "unknown technique '%.40s'", tech);
	return 0;
}

static int is_lazy(enum technique t)
{
	return t == TECH_POSTCOPY || t == TECH_HYBRID;
}

/* What the technique needs on this host: lazy restores need userfaultfd. */
static int technique_checks(struct dst_ctx *d, enum technique t, struct mig_err **err)
{
	int ok = 1;
	if (is_lazy(t) && criu_has_feature(d->o->criu, "uffd-noncoop", &ok, err) < 0)
		return -1;
	if (!ok)
		return mig_err_set(err, 0,
				   "%s needs userfaultfd on the destination (criu check --feature "
				   "uffd-noncoop fails: kernel option %s); use cold or pre-copy",
				   technique_name(t), criu_feature_kernel_option("uffd-noncoop"));
	return 0;
}

/* --sync-bundle and no bundle here: makes BASE/NAME (0700) for the source to send config.json
 * and rootfs into, locked like any bundle.  1 when it did, 0 when a bundle is here (or was
 * not asked for), -1 on error. */
static int prepare_new_bundle(struct dst_ctx *d, struct dst_session *s, const cJSON *req,
			      const char *name, struct mig_err **err)
{
	int sync = 0;
	proto_get_bool(req, "sync_bundle", &sync, 0, NULL);
	struct bundle_info nb = {.dir = mig_strdup_printf("%s/%s", d->base_dir, name)};
	char *cfg = bundle_path(&nb, "config.json");
	int r = 0;
	enum runc_status st;
	if (sync && !fs_exists(cfg)) {
		r = fs_mkdir_p(nb.dir, 0700, err);
		if (r == 0)
			r = lock_target(s, &nb, err);
		if (r == 0)
			r = runc_state(&d->runc, name, &st, err);
		if (r == 0 && st != RUNC_ABSENT)
			r = mig_err_set(err, 0, "%s has no bundle here but runc knows it (%s)",
					name, runc_status_name(st));
		if (r == 0) {
			log_info("--sync-bundle: %s has no bundle here; the source sends it to %s",
				 name, nb.dir);
			r = 1;
		}
	}
	free(cfg);
	bundle_free(&nb);
	return r < 0 ? mig_err_wrap(err, "destination") : r;
}

static cJSON *do_check(struct dst_ctx *d, struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	struct bundle_info b;
	enum technique t;
	const char *name = req_name(req, &e);
	int fresh = 0;
	if (!name || req_technique(req, &t, &e) < 0 || technique_checks(d, t, &e) < 0 ||
	    (fresh = prepare_new_bundle(d, s, req, name, &e)) < 0)
		return reply_err(&e);
	if (fresh) {
		report_init(&s->report, "destination", name, technique_name(t));
		free(s->checked_dir);
		s->checked_dir = mig_strdup_printf("%s/%s", d->base_dir, name);
		cJSON *rep = proto_reply(NULL);
		cJSON_AddBoolToObject(rep, "send_bundle", 1);
		return rep;
	}
	if (check_target(d, s, req, name, &b, &e) < 0)
		return reply_err(&e);
	report_init(&s->report, "destination", name, technique_name(t));
	/* Whatever an earlier migration of this container left: a fresh start. */
	int r = restore_clear_dir(&b, "image", &e);
	if (r == 0)
		r = restore_clear_dir(&b, "parent", &e);
	if (r == 0)
		r = restore_clear_dir(&b, "work", &e);
	cJSON *rep = r < 0 ? reply_err(&e) : proto_reply(NULL);
	if (r == 0) {
		cJSON_AddStringToObject(rep, "bundle", b.dir);
		cJSON_AddBoolToObject(rep, "terminal", b.terminal);
		free(s->checked_dir);
		s->checked_dir = mig_xstrdup(b.dir);
	}
	bundle_free(&b);
	return rep;
}

/* migrate-src --check: this host's facts (facts.h); changes nothing, takes no lock. */
static cJSON *do_doctor(struct dst_ctx *d, const cJSON *req)
{
	struct mig_err *e = NULL;
	struct facts_opts fo = {.runc = &d->runc, .criu = d->o->criu, .base_dir = d->base_dir};
	if (facts_parse_request(req, &fo, &e) < 0)
		return reply_err(&e);
	struct host_facts f;
	facts_gather(&fo, &f);
	cJSON *rep = proto_reply(NULL);
	cJSON_AddItemToObject(rep, "facts", facts_to_json(&f));
	facts_free(&f);
	return rep;
}

/* CRIU's restore statistics (stats-restore in runc's --work-path) into the report; a
 * missing or unreadable file costs only the numbers. */
static void add_restore_stats(struct dst_session *s, const char *work)
{
	struct criu_restore_stats st;
	struct mig_err *e = NULL;
	if (stats_read_restore(work, &st, &e) == 0)
		report_add_restore_stats(&s->report, &st);
	else
		log_warn("%s", mig_err_msg(e));
	mig_err_free(&e);
}

/* What a stream that did not end in a restore left in the image dir: it would only take
 * the space (a full disk is one way to get here). */
static void drop_partial_image(struct dst_session *s)
{
	if (!s->checked_dir || !s->rx.sum.files)
		return;
	struct bundle_info b = {.dir = s->checked_dir};
	struct mig_err *e = NULL;
	if (restore_clear_dir(&b, "image", &e) < 0) {
		log_warn("removing the partial image: %s", mig_err_msg(e));
		mig_err_free(&e);
	}
}

static cJSON *do_restore(struct dst_ctx *d, struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	struct bundle_info b;
	enum technique t;
	const char *name = req_name(req, &e);
	if (!name || req_technique(req, &t, &e) < 0)
		return reply_err(&e);
	if (strcmp(s->report.container, name))
		report_init(&s->report, "destination", name, technique_name(t));
	s->restore_tried = 1;
	/* The check removed a container to replace; here one is a conflict. */
	if (technique_checks(d, t, &e) < 0 || check_target(d, s, NULL, name, &b, &e) < 0) {
		report_fail(&s->report, 1, mig_err_msg(e));
		return reply_err(&e);
	}
	if (cJSON_GetObjectItemCaseSensitive(req, "stream") &&
	    stream_rx_verify(&s->rx, req, &e) < 0) {
		drop_partial_image(s);
		bundle_free(&b);
		report_fail(&s->report, 1, mig_err_msg(e));
		return reply_err(&e);
	}
	long long t0 = proc_now_ms();
	char *image = bundle_path(&b, "image");
	char *work = bundle_path(&b, "work");
	int r = 0;
	if (is_lazy(t))
		r = dst_lazy_start(d, s, req, &b, &e);
	if (r == 0)
		r = restore_container(&d->runc, name, &b, image, work, is_lazy(t), &e);
	if (r == 0)
		add_restore_stats(s, work);
	free(work);
	s->report.restore_ms = proc_now_ms() - t0;
	s->restore_done_ms = proc_now_ms();
	bundle_free(&b);
	if (r < 0) {
		dst_lazy_stop(s);
		mig_err_wrap(&e, "restore of %s on the destination", name);
		report_fail(&s->report, 1, mig_err_msg(e));
		free(image);
		return reply_err(&e);
	}
	s->report.ok = 1;
	cJSON *rep = proto_reply(NULL);
	cJSON_AddNumberToObject(rep, "restore_ms", (double)s->report.restore_ms);
	/* CRIU's own numbers for the source's report (REPORT_NONE when it wrote none). */
	cJSON_AddNumberToObject(rep, "criu_restore_us", (double)s->report.criu_restore_us);
	cJSON_AddNumberToObject(rep, "forking_us", (double)s->report.forking_us);
	cJSON_AddNumberToObject(rep, "pages_restored", (double)s->report.pages_restored);
	/* Sized after the reply (dst_handle_conn): a directory walk has no place in the
	 * downtime. */
	free(s->image);
	s->image = image;
	return rep;
}

/* After a lazy restore's reply: waits until the lazy-pages daemon has fetched every page
 * and exited, then tells the source ("lazy_done"). */
/* Stops and removes the restored container: a lazy restore whose pages did not all arrive
 * (its missing memory reads as zeros) or one the source never confirmed (it may run there
 * again).  Adds what was done to *e's message. */
void dst_discard_copy(struct dst_ctx *d, struct dst_session *s, const char *what,
		      struct mig_err **e)
{
	struct mig_err *e2 = NULL;
	const char *name = s->report.container;
	if (runc_kill(&d->runc, name, &e2) == 0 && runc_remove_leftover(&d->runc, name, &e2) == 0)
		mig_err_wrap(e, "the destination removed its %s of %s", what, name);
	else
		mig_err_wrap(
		    e, "REMOVING the %s of %s on the destination FAILED (%s): stop it by hand",
		    what, name, mig_err_msg(e2));
	mig_err_free(&e2);
}

/* Reads one frame: the first byte may take as long as a migration step; the rest of the
 * frame must follow quickly. */
static cJSON *recv_request(struct mig_conn *c, int first_ms, struct mig_err **err)
{
	uint8_t hdr[4];
	uint32_t n;
	if (c->read_full(c, hdr, 1, first_ms, err) < 0 ||
	    c->read_full(c, hdr + 1, 3, FRAME_TIMEOUT_MS, err) < 0 ||
	    proto_frame_len(hdr, &n, err) < 0)
		return NULL;
	uint8_t *payload = mig_xmalloc(n);
	cJSON *req = NULL;
	if (c->read_full(c, payload, n, FRAME_TIMEOUT_MS, err) == 0)
		req = proto_decode(payload, n, err);
	free(payload);
	return req;
}

/* After a successful restore's reply: the source must confirm it.  A source that gave up
 * waiting has restored (or will restore) the container on its side, so an unconfirmed copy
 * here is removed: never two running copies. */
static void await_commit(struct dst_ctx *d, struct dst_session *s, struct mig_conn *c)
{
	struct mig_err *e = NULL;
	cJSON *req = recv_request(c, COMMIT_WAIT_MS, &e);
	const char *type = req ? proto_get_str(req, "type", 0, NULL) : NULL;
	if (req && type && !strcmp(type, "commit")) {
		cJSON *rep = dst_handle_request(d, s, req);
		if (proto_send(c, rep, &e) < 0) {
			/* Our reply may be lost, but the source did commit: keep the copy. */
			log_warn("%s", mig_err_msg(e));
			mig_err_free(&e);
		}
		cJSON_Delete(rep);
	}
	cJSON_Delete(req);
	if (s->committed)
		return;
	if (!e)
		mig_err_set(&e, 0, "the source sent something else than commit");
	mig_err_wrap(&e, "the source did not confirm the restore");
	dst_lazy_stop(s);
	dst_discard_copy(d, s, "unconfirmed copy", &e);
	log_error("%s", mig_err_msg(e));
	s->report.ok = 0;
	report_fail(&s->report, 1, mig_err_msg(e));
	mig_err_free(&e);
}

/* A streamed image file (stream.h): into the image dir of the bundle the check prepared.
 * No reply; a violation gets one and ends the connection. */
static cJSON *do_file(struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	if (!s->checked_dir) {
		s->broken = 1;
		return proto_reply("file before a successful check");
	}
	char *dir = mig_strdup_printf("%s/image", s->checked_dir);
	int r = stream_rx_file(&s->rx, s->conn, req, dir, &e);
	free(dir);
	if (r == 0)
		return NULL;
	s->broken = 1;
	return reply_err(&e);
}

cJSON *dst_handle_request(struct dst_ctx *d, struct dst_session *s, cJSON *req)
{
	const char *type = proto_get_str(req, "type", 0, NULL);
	if (!type)
		return proto_reply("field 'type' missing or not a string");
	if (!strcmp(type, "hello"))
		return do_hello(d, s);
	if (d->auth_on) {
		struct mig_err *e = NULL;
		if (!s->nonce[0])
			mig_err_set(&e, 0,
				    "authentication required: say hello first (it gives the "
				    "nonce requests are signed with)");
		else
			auth_verify(req, d->token, s->nonce, &s->next_seq, &e);
		if (e) {
			s->auth_failed = 1;
			return reply_err(&e);
		}
	}
	s->trusted = 1;
	if (!strcmp(type, "file"))
		return do_file(s, req);
	if (!strcmp(type, "check"))
		return do_check(d, s, req);
	if (!strcmp(type, "restore"))
		return do_restore(d, s, req);
	if (!strcmp(type, "doctor"))
		return do_doctor(d, req);
	if (!strcmp(type, "commit")) {
		if (!s->report.ok)
			return proto_reply("commit without a successful restore");
		s->committed = 1;
		return proto_reply(NULL);
	}
	char msg[128];
	snprintf(msg, sizeof(msg), "unknown request type '%.40s'", type);
	return proto_reply(msg);
}

static void print_report(struct dst_ctx *d, struct dst_session *s)
{
	s->report.total_ms = proc_now_ms() - s->start_ms;
	s->report.exit_code = s->report.ok ? 0 : 1;
	if (d->o->json) {
		char *j = report_json(&s->report);
		printf("%s\n", j);
		fflush(stdout);
		free(j);
	} else if (d->o->verbose >= 0) {
		report_print_table(&s->report, stdout);
	}
}

int dst_handle_conn(struct dst_ctx *d, struct mig_conn *c)
{
	struct dst_session s;
	memset(&s, 0, sizeof(s));
	s.lock_fd = -1;
	s.conn = c;
	s.start_ms = proc_now_ms();
	report_init(&s.report, "destination", "", "cold");
	while (!dst_stopping()) {
		struct mig_err *e = NULL;
		/* Until a request proves the token, a peer gets no more time than a slow
		 * frame: idle connections cannot hold the handler slots. */
		int wait_ms = s.trusted ? d->o->timeout_s * 2000 : FRAME_TIMEOUT_MS;
		cJSON *req = recv_request(c, wait_ms, &e);
		if (!req) {
			int closed = e && strstr(mig_err_msg(e), "connection closed");
			if (!closed) {
				/* Say what was wrong before hanging up: the peer may be a person
				 * with nc, or a buggy client that deserves a reason. */
				log_warn("%s: %s", c->peer, mig_err_msg(e));
				cJSON *rep = proto_reply(mig_err_msg(e));
				struct mig_err *e2 = NULL;
				proto_send(c, rep, &e2);
				mig_err_free(&e2);
				cJSON_Delete(rep);
			}
			mig_err_free(&e);
			break;
		}
		const char *type = proto_get_str(req, "type", 0, NULL);
		log_debug("%s: request %s", c->peer, type ? type : "?");
		cJSON *rep = dst_handle_request(d, &s, req);
		int is_restore = type && !strcmp(type, "restore");
		cJSON_Delete(req);
		if (!rep)
			continue; /* a streamed file: no reply */
		if (proto_send(c, rep, &e) < 0) {
			log_warn("%s", mig_err_msg(e));
			mig_err_free(&e);
		}
		cJSON_Delete(rep);
		if (is_restore && s.report.ok)
			await_commit(d, &s, c);
		if (is_restore && s.image)
			s.report.dump_bytes = fs_tree_size(s.image);
		if (is_restore && s.lazy_running)
			dst_lazy_finish(d, &s, c);
		if ((is_restore && s.restore_tried) || s.auth_failed || s.broken)
			break;
	}
	dst_lazy_stop(&s);
	if (!s.restore_tried)
		drop_partial_image(&s);
	free(s.lazy_log);
	free(s.image);
	free(s.checked_dir);
	stream_rx_free(&s.rx);
	if (s.lock_fd >= 0)
		close(s.lock_fd);
	if (!s.restore_tried)
		return DST_NO_MIGRATION;
	print_report(d, &s);
	return s.report.ok ? DST_MIGRATED : DST_FAILED;
}
