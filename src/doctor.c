/* migrate-src --check (see doctor.h): gathering on the source, asking the destination,
 * comparing, printing. */
#include "doctor.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "criu.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "report.h"
#include "session.h"
#include "transfer.h"

/* rsync's dry run walks the whole rootfs on both hosts. */
#define PROBE_TIMEOUT_MS   120000
#define REMOTE_EXEC_MS	   30000
#define RSYNC_VERSION_SIZE 4096

static const char *const hosts[] = {"source", "destination"};

/* ---- versions ---- */

static int parse_version(const char *s, long v[3])
{
	int n = 0;
	v[0] = v[1] = v[2] = 0;
	while (n < 3 && *s >= '0' && *s <= '9') {
		char *end;
		v[n++] = strtol(s, &end, 10);
		s = end;
		if (*s != '.')
			break;
		s++;
	}
	return n;
}

enum version_diff doctor_version_diff(const char *a, const char *b)
{
	long va[3], vb[3];
	if (!a || !b || parse_version(a, va) < 1 || parse_version(b, vb) < 1)
		return VERSION_UNKNOWN;
	if (va[0] != vb[0])
		return VERSION_MAJOR;
	if (va[1] != vb[1])
		return VERSION_MINOR;
	return va[2] != vb[2] ? VERSION_PATCH : VERSION_SAME;
}

/* ---- the checks ---- */

static void tech_list(unsigned mask, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int t = TECH_COLD; t <= TECH_HYBRID; t++)
		if (mask & TECH_BIT(t))
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? ", " : "", technique_name(t));
}

static void __attribute__((format(printf, 6, 7)))
add(struct doctor_report *r, const char *host, const char *name, enum check_status st,
    unsigned needed_by, const char *fmt, ...)
{
	if (r->n >= DOCTOR_MAX_CHECKS)
		return;
	struct doctor_check *c = &r->checks[r->n++];
	va_list ap;
	va_start(ap, fmt);
	char *detail = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	c->host = host;
	c->name = name;
	c->needed_by = needed_by;
	c->failed = st == CHECK_FAIL;
	c->status = st;
	if (c->failed) {
		r->blocked |= needed_by;
		if (!(needed_by & TECH_BIT(r->chosen)))
			c->status = CHECK_WARN;
	}
	if (c->failed && needed_by != TECHS_ALL) {
		char techs[64];
		tech_list(needed_by, techs, sizeof(techs));
		c->detail = mig_strdup_printf("%s; needed by %s", detail, techs);
		free(detail);
	} else {
		c->detail = detail;
	}
}

static const char *or_unknown(const char *s)
{
	return s ? s : "unknown";
}

static void eval_tools(struct doctor_report *r, const char *host, const struct host_facts *f)
{
	if (f->runc_version)
		add(r, host, "runc", CHECK_OK, TECHS_ALL, "%s", f->runc_version);
	else
		add(r, host, "runc", CHECK_FAIL, TECHS_ALL, "%s", or_unknown(f->runc_error));
	if (f->criu_version)
		add(r, host, "criu", CHECK_OK, TECHS_ALL, "%s", f->criu_version);
	else
		add(r, host, "criu", CHECK_FAIL, TECHS_ALL, "%s", or_unknown(f->criu_error));
	if (f->criu_check == FACT_YES)
		add(r, host, "criu check", CHECK_OK, TECHS_ALL, "%s",
		    f->criu_check_detail && *f->criu_check_detail ? f->criu_check_detail : "ok");
	else
		add(r, host, "criu check", CHECK_FAIL, TECHS_ALL, "%s%s",
		    f->criu_check == FACT_NO ? "fails: " : "could not run: ",
		    or_unknown(f->criu_check_detail));
}

static void eval_feature(struct doctor_report *r, const char *host, const struct host_facts *f,
			 int idx, unsigned needed_by)
{
	static const char *const names[] = {"feature mem_dirty_track", "feature uffd-noncoop"};
	const char *feat = facts_features[idx];
	const char *opt = criu_feature_kernel_option(feat);
	if (f->features[idx] == FACT_YES)
		add(r, host, names[idx], CHECK_OK, needed_by, "supported");
	else if (f->features[idx] == FACT_NO)
		add(r, host, names[idx], CHECK_FAIL, needed_by,
		    "missing: criu check --feature %s fails%s%s", feat,
		    *opt ? "; kernel option " : "", opt);
	else
		add(r, host, names[idx], CHECK_FAIL, needed_by,
		    "unknown: criu check --feature %s could not run", feat);
}

static void eval_bundle(struct doctor_report *r, const char *host, const struct host_facts *f,
			int no_rootfs_sync)
{
	if (!f->bundle_ok) {
		add(r, host, "bundle", CHECK_FAIL, TECHS_ALL, "%s",
		    or_unknown(f->bundle_detail ? f->bundle_detail : f->bundle_dir));
		return;
	}
	if (!no_rootfs_sync && f->root_path && strchr(f->root_path, '/')) {
		add(r, host, "bundle", CHECK_FAIL, TECHS_ALL,
		    "%s: the rootfs is at '%s', outside the bundle: it cannot be synced; use "
		    "--no-rootfs-sync if both hosts share it",
		    or_unknown(f->bundle_dir), f->root_path);
		return;
	}
	add(r, host, "bundle", CHECK_OK, TECHS_ALL, "%s (config.json, %s)",
	    or_unknown(f->bundle_dir), or_unknown(f->root_path));
}

static void eval_container(struct doctor_report *r, const struct src_opts *o,
			   const struct host_facts *f, int on_source)
{
	const char *host = hosts[!on_source];
	const char *name = on_source ? "container" : "container name";
	const char *root = on_source ? (o->runc_root ? o->runc_root : RUNC_DEFAULT_ROOT) : NULL;
	if (!f->container_status) {
		add(r, host, name, CHECK_FAIL, TECHS_ALL, "runc state %s: %s", o->container,
		    or_unknown(f->container_error));
	} else if (on_source && !strcmp(f->container_status, "running")) {
		add(r, host, name, CHECK_OK, TECHS_ALL, "%s is running (pid %d)", o->container,
		    f->container_pid);
	} else if (on_source) {
		add(r, host, name, CHECK_FAIL, TECHS_ALL, "%s is %s (runc root %s), not running",
		    o->container, f->container_status, root);
	} else if (!strcmp(f->container_status, "absent")) {
		add(r, host, name, CHECK_OK, TECHS_ALL, "no container named %s there",
		    o->container);
	} else {
		add(r, host, name, CHECK_FAIL, TECHS_ALL,
		    "a container named %s already exists there (%s); remove it first", o->container,
		    f->container_status);
	}
}

/* need: the bytes that will be written there (-1 unknown); what: how need was made up. */
static void eval_space(struct doctor_report *r, const char *host, const struct host_facts *f,
		       long long need, const char *what)
{
	char fb[32], nb[32];
	if (f->free_bytes < 0) {
		add(r, host, "free space", CHECK_WARN, TECHS_ALL, "unknown for %s",
		    or_unknown(f->base_dir));
		return;
	}
	report_fmt_bytes(f->free_bytes, fb, sizeof(fb));
	if (need < 0) {
		add(r, host, "free space", CHECK_OK, TECHS_ALL,
		    "%s free in %s (the image size is unknown)", fb, or_unknown(f->base_dir));
		return;
	}
	report_fmt_bytes(need, nb, sizeof(nb));
	enum check_status st = f->free_bytes < need	  ? CHECK_FAIL
			       : f->free_bytes < 2 * need ? CHECK_WARN
							  : CHECK_OK;
	add(r, host, "free space", st, TECHS_ALL, "%s free in %s; needs about %s (%s)%s", fb,
	    or_unknown(f->base_dir), nb, what,
	    st == CHECK_FAIL   ? ": not enough"
	    : st == CHECK_WARN ? ": little margin"
			       : "");
}

/* CRIU's lazy page server on the source sizes a pipe to about 3.3 MB. */
static void eval_pipe(struct doctor_report *r, const struct src_opts *o, const struct host_facts *f)
{
	const char *name = "lazy pipe size";
	if (f->cap_sys_resource)
		add(r, "source", name, CHECK_OK, TECHS_LAZY, "CAP_SYS_RESOURCE");
	else if (f->pipe_max_size >= CRIU_PIPE_MAX_NEEDED)
		add(r, "source", name, CHECK_OK, TECHS_LAZY, "fs.pipe-max-size %ld",
		    f->pipe_max_size);
	else if (!o->no_sysctl && f->pipe_max_writable)
		add(r, "source", name, CHECK_OK, TECHS_LAZY,
		    "fs.pipe-max-size %ld, no CAP_SYS_RESOURCE: migrate-src raises it to %d for "
		    "post-copy and hybrid",
		    f->pipe_max_size, CRIU_PIPE_MAX_NEEDED);
	else
		add(r, "source", name, CHECK_FAIL, TECHS_LAZY,
		    "fs.pipe-max-size is %ld and this process lacks CAP_SYS_RESOURCE%s: CRIU's page "
		    "server would fail; run sysctl -w fs.pipe-max-size=%d",
		    f->pipe_max_size,
		    o->no_sysctl ? " (--no-sysctl)" : "; it cannot be raised from here",
		    CRIU_PIPE_MAX_NEEDED);
}

static void eval_hang(struct doctor_report *r, const char *host, const struct host_facts *f)
{
	const char *name = "dump hang test";
	const char *detail = or_unknown(f->hang_detail);
	switch (f->hang) {
	case HANG_OK:
		add(r, host, name, CHECK_OK, TECHS_ALL,
		    "criu dump of a test process works without CRIU_FAULT=130 (%lld ms)",
		    f->hang_ms);
		break;
	case HANG_HANGS:
		if (f->hang_with_fault == HANG_OK && f->criu_fault_set)
			add(r, host, name, CHECK_OK, TECHS_ALL,
			    "criu dump hangs without CRIU_FAULT=130 and works with it; it is set "
			    "here: keep it");
		else if (f->hang_with_fault == HANG_OK)
			add(r, host, name, CHECK_FAIL, TECHS_ALL,
			    "criu dump hangs without CRIU_FAULT=130 (no working hardware "
			    "breakpoints): set CRIU_FAULT=130 in the environment of migrate-src "
			    "and migrate-dst");
		else
			add(r, host, name, CHECK_FAIL, TECHS_ALL,
			    "criu dump hangs, with CRIU_FAULT=130 too: %s", detail);
		break;
	case HANG_FAILED:
		add(r, host, name, CHECK_FAIL, TECHS_ALL, "test dump failed: %s", detail);
		break;
	default:
		add(r, host, name, CHECK_WARN, TECHS_ALL, "not run%s%s",
		    f->hang_detail ? ": " : " (--no-hang-test)",
		    f->hang_detail ? f->hang_detail : "");
		break;
	}
}

static void eval_versions(struct doctor_report *r, const struct host_facts *src,
			  const struct host_facts *dst)
{
	enum version_diff c = doctor_version_diff(src->criu_version, dst->criu_version);
	const char *sv = or_unknown(src->criu_version), *dv = or_unknown(dst->criu_version);
	if (c == VERSION_MAJOR)
		add(r, "both", "criu versions", CHECK_FAIL, TECHS_ALL,
		    "source %s, destination %s: different major versions may not restore each "
		    "other's images; install the same CRIU on both",
		    sv, dv);
	else if (c == VERSION_MINOR)
		add(r, "both", "criu versions", CHECK_WARN, TECHS_ALL,
		    "source %s, destination %s: different minor versions; the same CRIU on both "
		    "is safest",
		    sv, dv);
	else if (c == VERSION_PATCH)
		add(r, "both", "criu versions", CHECK_OK, TECHS_ALL,
		    "source %s, destination %s (only patch levels differ)", sv, dv);
	else if (c == VERSION_SAME && !strcmp(sv, dv))
		add(r, "both", "criu versions", CHECK_OK, TECHS_ALL, "%s on both", sv);
	else if (c == VERSION_SAME)
		add(r, "both", "criu versions", CHECK_OK, TECHS_ALL, "source %s, destination %s",
		    sv, dv);
	c = doctor_version_diff(src->runc_version, dst->runc_version);
	sv = or_unknown(src->runc_version);
	dv = or_unknown(dst->runc_version);
	if (c == VERSION_MAJOR || c == VERSION_MINOR)
		add(r, "both", "runc versions", CHECK_WARN, TECHS_ALL,
		    "source %s, destination %s: they differ", sv, dv);
	else if (c == VERSION_PATCH)
		add(r, "both", "runc versions", CHECK_OK, TECHS_ALL,
		    "source %s, destination %s (only patch levels differ)", sv, dv);
	else if (c == VERSION_SAME && !strcmp(sv, dv))
		add(r, "both", "runc versions", CHECK_OK, TECHS_ALL, "%s on both", sv);
	else if (c == VERSION_SAME)
		add(r, "both", "runc versions", CHECK_OK, TECHS_ALL, "source %s, destination %s",
		    sv, dv);
}

static void eval_link(struct doctor_report *r, const struct doctor_link *l)
{
	if (!l->direct)
		add(r, "link", "ssh", l->ssh_ok == 1 ? CHECK_OK : CHECK_FAIL, TECHS_ALL, "%s",
		    or_unknown(l->ssh_detail));
	if (l->control_ok == 1 && !l->auth_on)
		add(r, "link", "control", CHECK_WARN, TECHS_ALL,
		    "%s; requests are NOT authenticated (migrate-dst --insecure)",
		    or_unknown(l->control_detail));
	else
		add(r, "link", "control", l->control_ok == 1 ? CHECK_OK : CHECK_FAIL, TECHS_ALL,
		    "%s", or_unknown(l->control_detail));
	add(r, "link", "rsync over ssh", l->probe_ok == 1 ? CHECK_OK : CHECK_FAIL, TECHS_ALL, "%s",
	    or_unknown(l->probe_detail));
}

void doctor_evaluate(const struct src_opts *o, const struct host_facts *src,
		     const struct host_facts *dst, const struct doctor_link *l,
		     struct doctor_report *r)
{
	memset(r, 0, sizeof(*r));
	r->chosen = o->technique;
	/* the source */
	eval_tools(r, "source", src);
	eval_bundle(r, "source", src, o->no_rootfs_sync);
	eval_container(r, o, src, 1);
	eval_feature(r, "source", src, FACTS_FEATURE_DIRTY, TECHS_PRE);
	eval_pipe(r, o, src);
	eval_space(r, "source", src, src->container_memory, "the image: the container's memory");
	eval_hang(r, "source", src);
	if (l->rsync_version)
		add(r, "source", "rsync", CHECK_OK, TECHS_ALL, "%s", l->rsync_version);
	else
		add(r, "source", "rsync", CHECK_FAIL, TECHS_ALL, "%s", or_unknown(l->rsync_error));
	/* between them */
	eval_link(r, l);
	if (!dst) {
		add(r, "destination", "facts", CHECK_FAIL, TECHS_ALL, "not known: %s",
		    or_unknown(l->dst_detail));
	} else {
		eval_versions(r, src, dst);
		eval_tools(r, "destination", dst);
		eval_bundle(r, "destination", dst, 1);
		eval_container(r, o, dst, 0);
		eval_feature(r, "destination", dst, FACTS_FEATURE_UFFD, TECHS_LAZY);
		long long need = src->container_memory;
		const char *what = "the image: the container's memory";
		if (need >= 0 && l->probe_bytes > 0) {
			need += l->probe_bytes;
			what = "the image and the rootfs changes";
		}
		eval_space(r, "destination", dst, need, what);
		eval_hang(r, "destination", dst);
	}
	if (l->dst_rsync_ok == 1)
		add(r, "destination", "rsync", CHECK_OK, TECHS_ALL, "%s",
		    or_unknown(l->dst_rsync_version));
	else if (l->dst_rsync_ok == 0)
		add(r, "destination", "rsync", CHECK_FAIL, TECHS_ALL, "%s",
		    or_unknown(l->dst_rsync_error));
	if (l->interrupted)
		add(r, "source", "interrupted", CHECK_FAIL, TECHS_ALL,
		    "stopped by a signal before every check ran");
}

void doctor_report_free(struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->checks[i].detail);
	r->n = 0;
}

int doctor_can_run(const struct doctor_report *r, enum technique t)
{
	return !(r->blocked & TECH_BIT(t));
}

/* ---- output ---- */

static const char *const status_names[] = {"OK", "WARN", "FAIL"};

/* "source feature mem_dirty_track, destination ..." for the checks that stop t. */
static void blockers(const struct doctor_report *r, enum technique t, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_check *c = &r->checks[i];
		int plain = !strcmp(c->host, "both") || !strcmp(c->host, "link");
		if (c->failed && (c->needed_by & TECH_BIT(t)))
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
						 "%s%s%s%s", used ? ", " : "", plain ? "" : c->host,
						 plain ? "" : " ", c->name);
	}
}

void doctor_print_table(const struct doctor_report *r, FILE *out)
{
	char why[1024];
	fprintf(out, "%-12s %-24s %-6s %s\n", "HOST", "CHECK", "STATUS", "DETAIL");
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_check *c = &r->checks[i];
		fprintf(out, "%-12s %-24s %-6s %s\n", c->host, c->name, status_names[c->status],
			c->detail);
	}
	for (int t = TECH_COLD; t <= TECH_HYBRID; t++) {
		int ok = doctor_can_run(r, (enum technique)t);
		blockers(r, (enum technique)t, why, sizeof(why));
		fprintf(out, "%-12s %-24s %-6s %s%s%s\n", "technique", technique_name(t),
			ok ? "OK" : "FAIL", ok ? "can run" : "cannot run: ", ok ? "" : why,
			t == (int)r->chosen ? " (chosen)" : "");
	}
	fprintf(out, "techniques: cold %s, pre-copy %s, post-copy %s, hybrid %s; %s %s here\n",
		doctor_can_run(r, TECH_COLD) ? "yes" : "no",
		doctor_can_run(r, TECH_PRECOPY) ? "yes" : "no",
		doctor_can_run(r, TECH_POSTCOPY) ? "yes" : "no",
		doctor_can_run(r, TECH_HYBRID) ? "yes" : "no", technique_name(r->chosen),
		doctor_can_run(r, r->chosen) ? "can run" : "CANNOT run");
}

cJSON *doctor_json(const struct src_opts *o, const struct doctor_report *r,
		   const struct host_facts *src, const struct host_facts *dst)
{
	int ok = doctor_can_run(r, r->chosen);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "container", o->container);
	cJSON_AddStringToObject(j, "destination", o->dest_host);
	cJSON_AddStringToObject(j, "technique", technique_name(r->chosen));
	cJSON_AddBoolToObject(j, "ok", ok);
	cJSON_AddNumberToObject(j, "exit_code", ok ? EXIT_MIGRATED : EXIT_REFUSED);
	cJSON *techs = cJSON_AddObjectToObject(j, "techniques");
	for (int t = TECH_COLD; t <= TECH_HYBRID; t++)
		cJSON_AddBoolToObject(techs, technique_name(t),
				      doctor_can_run(r, (enum technique)t));
	cJSON *checks = cJSON_AddArrayToObject(j, "checks");
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_check *c = &r->checks[i];
		cJSON *cj = cJSON_CreateObject();
		cJSON_AddStringToObject(cj, "host", c->host);
		cJSON_AddStringToObject(cj, "check", c->name);
		cJSON_AddStringToObject(cj, "status", status_names[c->status]);
		cJSON_AddStringToObject(cj, "detail", c->detail);
		cJSON *nb = cJSON_AddArrayToObject(cj, "needed_by");
		for (int t = TECH_COLD; t <= TECH_HYBRID; t++)
			if (c->needed_by & TECH_BIT(t))
				cJSON_AddItemToArray(nb, cJSON_CreateString(technique_name(t)));
		cJSON_AddItemToArray(checks, cj);
	}
	cJSON *facts = cJSON_AddObjectToObject(j, "facts");
	cJSON_AddItemToObject(facts, "source", facts_to_json(src));
	cJSON_AddItemToObject(facts, "destination", dst ? facts_to_json(dst) : cJSON_CreateNull());
	return j;
}

void doctor_link_free(struct doctor_link *l)
{
	char **strs[] = {&l->ssh_detail,	&l->control_detail, &l->dst_detail,
			 &l->probe_detail,	&l->rsync_version,  &l->rsync_error,
			 &l->dst_rsync_version, &l->dst_rsync_error};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

/* ---- running it ---- */

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static char *take_err(struct mig_err **e)
{
	char *s = mig_xstrdup(mig_err_msg(*e));
	mig_err_free(e);
	return s;
}

/* SSH, the control channel and hello; each step's outcome goes into l. */
static void connect_steps(struct ctl_session *s, const struct src_opts *o, struct doctor_link *l)
{
	struct mig_err *e = NULL;
	l->direct = o->direct;
	l->ssh_ok = l->control_ok = -1;
	if (!o->direct) {
		l->ssh_ok = session_ssh(s, &e) == 0;
		l->ssh_detail = l->ssh_ok
				    ? mig_strdup_printf("%s@%s:%d: host key known, key "
							"accepted",
							o->ssh_user, o->dest_host, o->ssh_port)
				    : take_err(&e);
		if (!l->ssh_ok) {
			l->control_detail = mig_xstrdup("not tried: no SSH session");
			return;
		}
	}
	l->control_ok = session_control(s, &e) == 0 && session_hello(s, &e) == 0;
	if (!l->control_ok) {
		l->control_detail = take_err(&e);
		return;
	}
	l->auth_on = s->auth_on;
	l->control_detail = mig_strdup_printf(
	    "migrate-dst %s on port %d%s, base dir %s", or_unknown(s->dst_version), o->port,
	    o->direct ? " (plain TCP)" : " through SSH", s->base_dir);
}

/* The destination's answer to the doctor request sent earlier. */
static int receive_facts(struct ctl_session *s, int hang_ms, struct host_facts *dst,
			 struct doctor_link *l)
{
	struct mig_err *e = NULL;
	/* It runs a test dump, and maybe a second one with CRIU_FAULT=130. */
	int timeout = 2 * (hang_ms + 5000) + SESSION_TIMEOUT_MS * 2;
	cJSON *rep = proto_recv(s->ctl, timeout, &e);
	if (!rep) {
		l->dst_detail =
		    mig_strdup_printf("no answer to the doctor request: %s", mig_err_msg(e));
		mig_err_free(&e);
		return -1;
	}
	int ok = 0;
	proto_get_bool(rep, "ok", &ok, 0, NULL);
	const cJSON *facts = cJSON_GetObjectItemCaseSensitive(rep, "facts");
	int r = -1;
	if (!ok) {
		const char *why = proto_get_str(rep, "error", 0, NULL);
		l->dst_detail =
		    mig_strdup_printf("migrate-dst %s refused the doctor request: %s%s",
				      or_unknown(s->dst_version), or_unknown(why),
				      why && strstr(why, "unknown request type")
					  ? " (it is older than this migrate-src: update it)"
					  : "");
	} else if (facts_from_json(facts, dst, &e) < 0) {
		l->dst_detail = take_err(&e);
	} else {
		r = 0;
	}
	cJSON_Delete(rep);
	return r;
}

static void rsync_steps(struct ctl_session *s, const struct src_opts *o,
			const struct host_facts *src, struct doctor_link *l)
{
	struct mig_err *e = NULL;
	if (xfer_rsync_version(&l->rsync_version, &e) < 0)
		l->rsync_error = take_err(&e);
	l->dst_rsync_ok = -1;
	if (s->ssh) {
		char out[RSYNC_VERSION_SIZE], errb[256];
		int status;
		if (mig_ssh_exec(s->ssh, "rsync --version", REMOTE_EXEC_MS, out, sizeof(out), errb,
				 sizeof(errb), &status, &e) < 0) {
			l->dst_rsync_ok = 0;
			l->dst_rsync_error = take_err(&e);
		} else if (status != 0 || !(l->dst_rsync_version = xfer_parse_rsync_version(out))) {
			l->dst_rsync_ok = 0;
			errb[strcspn(errb, "\n")] = '\0';
			l->dst_rsync_error = mig_strdup_printf(
			    "rsync --version over ssh: exit status %d%s%s%s", status,
			    errb[0] ? " (" : "", errb, errb[0] ? ")" : "");
		} else {
			l->dst_rsync_ok = 1;
		}
	}
	if (stop_flag) {
		l->probe_detail = mig_xstrdup("not tried: interrupted");
		return;
	}
	/* The first rootfs pass as a dry run when the bundle allows it; else a listing. */
	struct xfer_ctx x = {.host = o->dest_host,
			     .user = o->ssh_user,
			     .ssh_port = o->ssh_port,
			     .identity = o->identity,
			     .known_hosts = o->known_hosts,
			     .timeout_ms = PROBE_TIMEOUT_MS};
	char *rootfs = NULL, *remote = NULL;
	if (!o->no_rootfs_sync && src->bundle_ok && src->root_path &&
	    !strchr(src->root_path, '/') && s->base_dir)
		rootfs = mig_strdup_printf("%s/%s", src->bundle_dir, src->root_path);
	if (rootfs)
		remote = mig_strdup_printf("%s/%s", s->base_dir, o->container);
	else
		remote = mig_xstrdup(s->base_dir ? s->base_dir : ".");
	struct xfer_stats st;
	l->probe_bytes = -1;
	l->probe_ok = xfer_probe(&x, rootfs, remote, &st, &e) == 0;
	if (!l->probe_ok) {
		l->probe_detail = take_err(&e);
	} else if (rootfs) {
		char b[32];
		l->probe_bytes = st.file_bytes;
		l->probe_detail = mig_strdup_printf(
		    "works (dry run of the rootfs sync: it would send %s of files)",
		    report_fmt_bytes(st.file_bytes, b, sizeof(b)));
	} else {
		l->probe_detail = mig_strdup_printf("works (listed %s:%s)", o->dest_host, remote);
	}
	free(rootfs);
	free(remote);
}

int doctor_run(const struct src_opts *o)
{
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	stop_flag = 0;

	int hang_ms = o->no_hang_test
			  ? 0
			  : (o->timeout_s * 1000 < FACTS_HANG_TEST_MS ? o->timeout_s * 1000
								      : FACTS_HANG_TEST_MS);
	struct runc_ctx rc = {.runc = o->runc,
			      .root = o->runc_root,
			      .criu = strcmp(o->criu, "criu") ? o->criu : NULL,
			      .timeout_ms = o->timeout_s * 1000};
	struct facts_opts fo = {.runc = &rc,
				.criu = o->criu,
				.base_dir = o->base_dir,
				.name = o->container,
				.hang_test_ms = hang_ms,
				.stop = &stop_flag};
	struct ctl_session s;
	struct doctor_link l;
	struct host_facts src, dst;
	struct mig_err *e = NULL;
	memset(&l, 0, sizeof(l));
	session_init(&s, o);

	connect_steps(&s, o, &l);
	/* The destination gathers its facts while we gather ours. */
	int sent = 0;
	if (l.control_ok == 1) {
		cJSON *req = facts_request(o->container, hang_ms);
		session_sign(&s, req);
		sent = proto_send(s.ctl, req, &e) == 0;
		if (!sent)
			l.dst_detail = take_err(&e);
		cJSON_Delete(req);
	} else {
		l.dst_detail = mig_xstrdup("the destination was not reached");
	}
	facts_gather(&fo, &src);
	int have_dst = sent && receive_facts(&s, hang_ms, &dst, &l) == 0;
	l.dst_ok = have_dst;
	rsync_steps(&s, o, &src, &l);
	l.interrupted = stop_flag != 0;

	struct doctor_report r;
	doctor_evaluate(o, &src, have_dst ? &dst : NULL, &l, &r);
	int ok = doctor_can_run(&r, o->technique);
	if (o->json) {
		cJSON *j = doctor_json(o, &r, &src, have_dst ? &dst : NULL);
		char *txt = cJSON_PrintUnformatted(j);
		printf("%s\n", txt);
		free(txt);
		cJSON_Delete(j);
	} else if (o->verbose >= 0) {
		doctor_print_table(&r, stdout);
	}
	fflush(stdout);
	doctor_report_free(&r);
	facts_free(&src);
	if (have_dst)
		facts_free(&dst);
	doctor_link_free(&l);
	session_close(&s);
	return ok ? EXIT_MIGRATED : EXIT_REFUSED;
}
