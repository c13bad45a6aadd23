/* migrate-dst: the requests of one connection (requests.h). */
#include "requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "criu.h"
#include "facts.h"
#include "fs.h"
#include "mig.h"
#include "proc.h"
#include "proto.h"
#include "restore.h"
#include "stats.h"
#include "target.h"
#include "timeouts.h"

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

/* hello: the source's nonce in, ours out, and the session keys from both (auth.h); the
 * reply is MACed too, so the source knows it talks to a holder of the token before it uses
 * anything in it. */
static cJSON *do_hello(struct dst_ctx *d, struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	char sn[AUTH_HEX];
	const char *cn = proto_get_str(req, "nonce", 0, NULL);
	if (d->auth_on &&
	    (!cn || strlen(cn) != AUTH_HEX - 1 || strspn(cn, "0123456789abcdef") != AUTH_HEX - 1)) {
		s->broken = 1;
		return proto_reply("hello without a valid 'nonce' (64 lower-case hex digits): "
				   "this migrate-dst needs a migrate-src of the same version");
	}
	if (d->auth_on && auth_nonce(sn, &e) < 0)
		return reply_err(&e);
	cJSON *r = proto_reply(NULL);
	cJSON_AddBoolToObject(r, "auth", d->auth_on);
	if (d->auth_on) {
		cJSON_AddStringToObject(r, "nonce", sn);
		auth_session_key(d->token, cn, sn, s->keys.key);
		s->keys.req_seq = 1;
		s->keys.rep_seq = 0;
		s->keyed = 1;
	}
	cJSON_AddStringToObject(r, "base_dir", d->base_dir);
	add_str_or_null(r, "runc_version", d->runc_version);
	add_str_or_null(r, "criu_version", d->criu_version);
	cJSON_AddStringToObject(r, "version", MIG_VERSION);
	s->state = ST_HELLO;
	return r;
}

/* The container name of a request, validated: it becomes a path component and runc's id. */
static const char *req_name(const cJSON *req, struct mig_err **err)
{
	const char *name = proto_get_str(req, "name", 1, err);
	if (name && !mig_valid_name(name)) {
		mig_err_set(err, 0, "bad container name (" MIG_NAME_RULE ")");
		return NULL;
	}
	return name;
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

/* What the technique needs on this host: lazy restores need userfaultfd. */
static int check_lazy_support(struct dst_ctx *d, enum technique t, struct mig_err **err)
{
	int ok = 1;
	if (technique_lazy(t) && criu_has_feature(d->cfg->criu, "uffd-noncoop", &ok, err) < 0)
		return -1;
	if (!ok)
		return mig_err_set(err, 0,
				   "%s needs userfaultfd on the destination (criu check --feature "
				   "uffd-noncoop fails: kernel option %s); use cold or pre-copy",
				   technique_name(t), criu_feature_kernel_option("uffd-noncoop"));
	return 0;
}

/* The session keeps the bundle it checked (or restored into): b is taken over. */
static void keep_bundle(struct dst_session *s, struct bundle_info *b)
{
	bundle_free(&s->bundle);
	s->bundle = *b;
	memset(b, 0, sizeof(*b)); /* every pointer is the session's now */
	b->fd = -1;
}

/* The request's CRIU options, against the allow-list (runc.h). */
static int req_criu_opts(const cJSON *req, struct criu_opts *o, struct mig_err **err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, "criu_opts");
	return criu_opts_from_json(j, o, err) < 0 ? mig_err_wrap(err, "destination") : 0;
}

static void report_criu_opts(struct dst_session *s, const struct criu_opts *o)
{
	criu_opts_str(o, s->report.criu_opts, sizeof(s->report.criu_opts));
}

/* The session's container from now on: every later request must name it. */
static void checked(struct dst_session *s, const char *name)
{
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->state = ST_CHECKED;
}

static cJSON *do_check(struct dst_ctx *d, struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	struct bundle_info b;
	enum technique t;
	struct criu_opts opts;
	const char *netns = NULL;
	int fresh = 0, sync = 0, replace = 0;
	proto_get_bool(req, "sync_bundle", &sync, 0, NULL);
	proto_get_bool(req, "replace", &replace, 0, NULL);
	const char *name = req_name(req, &e);
	if (!name || req_technique(req, &t, &e) < 0 || req_criu_opts(req, &opts, &e) < 0 ||
	    check_lazy_support(d, t, &e) < 0 ||
	    (sync && (fresh = target_prepare_new(d, name, &s->lock_fd, &b, &e)) < 0))
		return reply_err(&e);
	if (fresh) {
		report_init(&s->report, "destination", name, technique_name(t));
		report_criu_opts(s, &opts);
		keep_bundle(s, &b);
		checked(s, name);
		cJSON *rep = proto_reply(NULL);
		cJSON_AddBoolToObject(rep, "send_bundle", 1);
		return rep;
	}
	if (target_check(d, name, replace, &s->lock_fd, &b, &e) < 0)
		return reply_err(&e);
	if (target_check_netns(&b, req, &netns, &e) < 0) {
		bundle_free(&b);
		return reply_err(&e);
	}
	report_init(&s->report, "destination", name, technique_name(t));
	report_criu_opts(s, &opts);
	/* Only a cleared bundle is kept: files must never land beside an old image. */
	int cleared = target_clear(&b, &e) == 0;
	cJSON *rep = cleared ? proto_reply(NULL) : reply_err(&e);
	if (cleared) {
		cJSON_AddStringToObject(rep, "bundle", b.dir);
		cJSON_AddBoolToObject(rep, "terminal", b.terminal);
		keep_bundle(s, &b);
		checked(s, name);
	}
	bundle_free(&b);
	return rep;
}

/* migrate-src --check: this host's facts (facts.h); changes nothing, takes no lock. */
static cJSON *do_doctor(struct dst_ctx *d, const cJSON *req)
{
	struct mig_err *e = NULL;
	struct facts_opts fo = {.runc = &d->runc, .criu = d->cfg->criu, .base_dir = d->base_dir};
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
 * missing or unreadable file costs only the numbers, and says so. */
static void add_restore_stats(struct dst_session *s)
{
	struct criu_restore_stats st;
	struct mig_err *e = NULL;
	char *work = bundle_path(&s->bundle, "work");
	int r = stats_read_restore(work, &st, &e);
	free(work);
	if (r == 0)
		report_add_restore_stats(&s->report, &st);
	else
		report_warn(&s->report, "%s", mig_err_msg(e));
	mig_err_free(&e);
}

int dst_drop_partial_image(struct dst_session *s, struct mig_err **err)
{
	if (s->bundle.fd < 0 || !s->rx.sum.files)
		return 0;
	if (bundle_clear_dir(&s->bundle, "image", err) < 0)
		return mig_err_wrap(err, "removing the partial image");
	return 0;
}

/* A restore that failed before runc ran: the report says why, and so does the reply. */
static cJSON *refuse_restore(struct dst_session *s, struct mig_err **e)
{
	report_fail(&s->report, 1, mig_err_msg(*e));
	return reply_err(e);
}

/* The streamed image arrived whole (its count and digest) into the directory that is still
 * the bundle's image dir, or it is removed. */
static int verify_stream(struct dst_session *s, const struct bundle_info *b, const cJSON *req,
			 struct mig_err **err)
{
	if (stream_rx_same_dir(&s->rx, b->fd, "image", err) < 0)
		return -1;
	int has_sum = cJSON_GetObjectItemCaseSensitive(req, "stream") != NULL;
	/* No files: the image came by rsync.  Files: their count and digest must be checked. */
	if (!has_sum && !s->rx.sum.files && !s->rx.failed)
		return 0;
	if (!has_sum)
		mig_err_set(err, 0, "restore without the 'stream' summary of the files sent");
	if (has_sum && stream_rx_verify(&s->rx, req, err) == 0)
		return 0;
	struct mig_err *e2 = NULL;
	if (dst_drop_partial_image(s, &e2) < 0) {
		mig_err_append(err, "%s", mig_err_msg(e2));
		mig_err_free(&e2);
	}
	return -1;
}

static cJSON *restore_reply(struct dst_session *s)
{
	cJSON *rep = proto_reply(NULL);
	cJSON_AddNumberToObject(rep, "restore_ms", (double)s->report.restore_ms);
	/* CRIU's own numbers for the source's report (REPORT_NONE when it wrote none). */
	cJSON_AddNumberToObject(rep, "criu_restore_us", (double)s->report.criu_restore_us);
	cJSON_AddNumberToObject(rep, "forking_us", (double)s->report.forking_us);
	cJSON_AddNumberToObject(rep, "pages_restored", (double)s->report.pages_restored);
	return rep;
}

/* The bundle is ready for the restore: the image arrived whole into its image dir, and
 * its network namespace is the one the source's container can be restored into (the
 * destination's own path written into config.json for --dst-netns). */
static int ready_bundle(struct dst_session *s, struct bundle_info *b, const cJSON *req,
			struct mig_err **err)
{
	const char *netns = NULL;
	if (verify_stream(s, b, req, err) < 0 || target_check_netns(b, req, &netns, err) < 0)
		return -1;
	return netns ? bundle_set_netns(b, netns, err) : 0;
}

int dst_send(struct dst_session *s, cJSON *msg, struct mig_err **err)
{
	if (s->keyed)
		auth_sign(&s->keys, AUTH_REPLY, msg);
	return proto_send(s->conn, msg, err);
}

/* "restoring": the source learns when its request arrived, which bounds our deadline for it
 * (timeouts.h, 1.).  Lost or not, the restore goes on. */
static void send_restoring(struct dst_session *s)
{
	struct mig_err *e = NULL;
	cJSON *m = proto_msg("restoring");
	if (dst_send(s, m, &e) < 0)
		mig_err_free(&e);
	cJSON_Delete(m);
}

static cJSON *do_restore(struct dst_ctx *d, struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	struct bundle_info b;
	enum technique t;
	struct criu_opts opts;
	const char *name = req_name(req, &e);
	long long deadline = 0;
	if (!name || req_technique(req, &t, &e) < 0 || req_criu_opts(req, &opts, &e) < 0 ||
	    proto_get_count(req, "deadline_ms", RESTORE_DEADLINE_MAX_MS, &deadline, 1, &e) < 0)
		return reply_err(&e);
	/* From now on this copy has a deadline: the source stops waiting then and restores its
	 * own copy a margin later (timeouts.h, 1.). */
	s->restore_deadline_ms = proc_now_ms() + deadline;
	if (strcmp(s->report.container, name))
		report_init(&s->report, "destination", name, technique_name(t));
	report_criu_opts(s, &opts);
	s->restore_tried = 1;
	s->state = ST_DONE; /* until the restore has succeeded */
	/* A SIGTERM from here on lets the exchange finish (restore, reply, commit: bounded by
	 * the deadline); the server SIGKILLs only after HANDLER_STOP_GRACE_MS. */
	s->conn->uninterruptible = 1;
	send_restoring(s);
	if (!s->conn->alive(s->conn)) {
		mig_err_set(&e, 0, "the source hung up before the restore began");
		return refuse_restore(s, &e);
	}
	/* The check removed a container to replace; here one is a conflict. */
	if (check_lazy_support(d, t, &e) < 0 || target_check(d, name, 0, &s->lock_fd, &b, &e) < 0)
		return refuse_restore(s, &e);
	if (ready_bundle(s, &b, req, &e) < 0) {
		bundle_free(&b);
		return refuse_restore(s, &e);
	}
	keep_bundle(s, &b);
	struct runc_ctx rc = d->runc; /* restore_container makes its CRIU configuration */
	long long left = s->restore_deadline_ms - proc_now_ms();
	if (left <= 0) {
		mig_err_set(&e, 0, "the source's deadline passed before the restore began");
		return refuse_restore(s, &e);
	}
	/* Never past the source's deadline: it restores its own copy after it. */
	if (left < rc.timeout_ms)
		rc.timeout_ms = (int)left;
	long long t0 = proc_now_ms();
	int lazy = technique_lazy(t);
	int r =
	    lazy ? lazy_start(&s->lazy, d->cfg->criu, d->runc.timeout_ms, &s->pages, &s->bundle, &e)
		 : 0;
	if (r == 0)
		r = restore_container(&rc, name, &s->bundle, "image", "work", lazy, &opts, &e);
	if (r == 0)
		add_restore_stats(s);
	s->report.restore_ms = proc_now_ms() - t0;
	s->restore_done_ms = proc_now_ms();
	if (r < 0) {
		if (lazy && s->lazy.log)
			lazy_explain(&s->lazy, &e);
		lazy_stop(&s->lazy);
		mig_err_wrap(&e, "restore of %s on the destination", name);
		return refuse_restore(s, &e);
	}
	s->report.ok = 1;
	s->state = ST_RESTORED;
	return restore_reply(s);
}

/* A streamed image file (stream.h): into the image dir of the bundle the check prepared.
 * No reply; a violation gets one and ends the connection. */
static cJSON *do_file(struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	s->state = ST_RECEIVING;
	if (stream_rx_file(&s->rx, s->conn, req, s->bundle.fd, "image", &e) == 0)
		return NULL;
	s->broken = 1;
	return reply_err(&e);
}

/* Post-copy, before the source's freeze: a listener for its pages connection, which the
 * handler accepts once this reply is out (pages.h). */
static cJSON *do_pages(struct dst_ctx *d, struct dst_session *s, const cJSON *req)
{
	struct mig_err *e = NULL;
	enum technique t;
	if (technique_parse(s->report.technique, &t) < 0 || !technique_lazy(t))
		return proto_reply("a pages connection is for post-copy and hybrid only");
	long long silence = LAZY_SILENCE_MAX_MS;
	if (cJSON_GetObjectItemCaseSensitive(req, "silence_ms") &&
	    (proto_get_count(req, "silence_ms", LAZY_SILENCE_REQ_MAX_MS, &silence, 1, &e) < 0 ||
	     silence < LAZY_SILENCE_REQ_MIN_MS))
		return e ? reply_err(&e) : proto_reply("silence_ms out of range");
	s->silence_ms = (int)silence;
	cJSON *rep = proto_reply(NULL);
	if (pages_listen(&s->pages, d->cfg->socket, s->conn, rep, &e) < 0) {
		cJSON_Delete(rep);
		return reply_err(&e);
	}
	return rep;
}

static cJSON *do_commit(struct dst_session *s)
{
	s->committed = 1;
	s->state = ST_DONE;
	return proto_reply(NULL);
}

/* Every request but hello proves the token (auth.h). */
static int authenticate(struct dst_ctx *d, struct dst_session *s, cJSON *req, struct mig_err **err)
{
	if (!d->auth_on)
		return 0;
	if (!s->keyed)
		return mig_err_set(err, 0,
				   "authentication required: say hello first (it gives the nonce "
				   "requests are signed with)");
	return auth_verify(&s->keys, AUTH_REQUEST, req, err);
}

/* The states each request is accepted in (session.h). */
static const struct {
	const char *type;
	unsigned states; /* 1 << enum dst_state */
	int names;	 /* must name the session's container once there is one */
} allowed[] = {
    {"doctor", 1u << ST_HELLO, 0},
    {"check", 1u << ST_HELLO | 1u << ST_CHECKED, 1},
    {"file", 1u << ST_CHECKED | 1u << ST_RECEIVING, 0},
    {"restore", 1u << ST_CHECKED | 1u << ST_RECEIVING, 1},
    {"commit", 1u << ST_RESTORED, 1},
    {"pages", 1u << ST_CHECKED, 1},
    {"lazy_alive", 1u << ST_DONE, 1},
};

static const char *const state_names[] = {"new",       "hello",	   "checked",
					  "receiving", "restored", "done"};

/* Whether req fits the session's state and container; else the connection ends. */
static int fits_state(const struct dst_session *s, const char *type, const cJSON *req,
		      struct mig_err **err)
{
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (strcmp(type, allowed[i].type))
			continue;
		if (!(allowed[i].states & 1u << s->state))
			return mig_err_set(err, 0, "'%s' does not fit this connection's state (%s)",
					   type, state_names[s->state]);
		const char *name = proto_get_str(req, "name", 0, NULL);
		if (allowed[i].names && s->name[0] && (!name || strcmp(name, s->name)))
			return mig_err_set(
			    err, 0,
			    "this connection migrates %s: '%s' for another container "
			    "is refused (one container per connection)",
			    s->name, type);
		return 0;
	}
	return 1;
}

cJSON *dst_handle_request(struct dst_ctx *d, struct dst_session *s, cJSON *req)
{
	const char *type = proto_get_str(req, "type", 0, NULL);
	if (!type)
		return proto_reply("field 'type' missing or not a string");
	if (!strcmp(type, "hello")) {
		if (s->state == ST_NEW)
			return do_hello(d, s, req);
		s->broken = 1;
		return proto_reply("one hello per connection");
	}
	struct mig_err *e = NULL;
	if (authenticate(d, s, req, &e) < 0) {
		s->auth_failed = 1;
		return reply_err(&e);
	}
	s->trusted = 1;
	int fit = fits_state(s, type, req, &e);
	if (fit < 0) {
		s->broken = 1;
		return reply_err(&e);
	}
	if (!strcmp(type, "file"))
		return do_file(s, req);
	if (!strcmp(type, "check"))
		return do_check(d, s, req);
	if (!strcmp(type, "restore"))
		return do_restore(d, s, req);
	if (!strcmp(type, "doctor"))
		return do_doctor(d, req);
	if (!strcmp(type, "commit"))
		return do_commit(s);
	if (!strcmp(type, "pages"))
		return do_pages(d, s, req);
	if (!strcmp(type, "lazy_alive"))
		return proto_reply(NULL);
	char msg[128];
	snprintf(msg, sizeof(msg), "unknown request type '%.40s'", type);
	return proto_reply_code(PROTO_CODE_UNKNOWN_TYPE, msg);
}
