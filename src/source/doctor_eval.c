/* migrate-src --check, the pure part (doctor.h): the checks from the facts, the table and
 * the JSON.  No I/O but the printing to a given stream. */
#include "doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "criu.h"
#include "report.h"
#include "text.h"

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

/* runc < 1.2 on cgroup v2 gives CRIU nothing of the restored container's cgroup; the
 * restore gives it itself (restore.h) unless it cannot be said in CRIU's configuration.
 * Nothing to say on cgroup v1, where runc gives CRIU the cgroup roots. */
static void eval_cgroup(struct doctor_report *r, const char *host, const struct host_facts *f)
{
	const char *v = f->runc_version;
	if (f->cgroup2 != FACT_YES || !v)
		return;
	if (!cgroup_runc_needs_root(v))
		add(r, host, "cgroup v2", CHECK_OK, TECHS_ALL,
		    "runc %s gives CRIU the restored container's cgroup", v);
	else if (f->cgroup_root_error)
		add(r, host, "cgroup v2", CHECK_FAIL, TECHS_ALL,
		    "runc %s does not give CRIU the restored container's cgroup (runc 1.2 does), "
		    "and migrate cannot either: %s",
		    v, f->cgroup_root_error);
	else
		add(r, host, "cgroup v2", CHECK_WARN, TECHS_ALL,
		    "runc %s does not give CRIU the restored container's cgroup (runc 1.2 does): "
		    "migrate gives it (cgroup-root %s)",
		    v, f->cgroup_root ? f->cgroup_root : "of the bundle, at the restore");
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

static void eval_container(struct doctor_report *r, const struct plan *o,
			   const struct host_facts *f, int on_source)
{
	const char *host = hosts[!on_source];
	const char *name = on_source ? "container" : "container name";
	const char *root = on_source && o->tools.runc.root ? o->tools.runc.root : RUNC_DEFAULT_ROOT;
	const char *container = o->what.container;
	if (!f->container_status) {
		add(r, host, name, CHECK_FAIL, TECHS_ALL, "runc state %s: %s", container,
		    or_unknown(f->container_error));
	} else if (on_source && !strcmp(f->container_status, "running")) {
		add(r, host, name, CHECK_OK, TECHS_ALL, "%s is running (pid %d)", container,
		    f->container_pid);
	} else if (on_source) {
		add(r, host, name, CHECK_FAIL, TECHS_ALL, "%s is %s (runc root %s), not running",
		    container, f->container_status, root);
	} else if (!strcmp(f->container_status, "absent")) {
		add(r, host, name, CHECK_OK, TECHS_ALL, "no container named %s there", container);
	} else {
		add(r, host, name, CHECK_FAIL, TECHS_ALL,
		    "a container named %s already exists there (%s); remove it first", container,
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
static void eval_pipe(struct doctor_report *r, const struct plan *o, const struct host_facts *f)
{
	const char *name = "lazy pipe size";
	if (f->cap_sys_resource)
		add(r, "source", name, CHECK_OK, TECHS_LAZY, "CAP_SYS_RESOURCE");
	else if (f->pipe_max_size >= CRIU_PIPE_MAX_NEEDED)
		add(r, "source", name, CHECK_OK, TECHS_LAZY, "fs.pipe-max-size %ld",
		    f->pipe_max_size);
	else if (!o->how.no_sysctl && f->pipe_max_writable)
		add(r, "source", name, CHECK_OK, TECHS_LAZY,
		    "fs.pipe-max-size %ld, no CAP_SYS_RESOURCE: migrate-src raises it to %d for "
		    "post-copy and hybrid",
		    f->pipe_max_size, CRIU_PIPE_MAX_NEEDED);
	else
		add(r, "source", name, CHECK_FAIL, TECHS_LAZY,
		    "fs.pipe-max-size is %ld and this process lacks CAP_SYS_RESOURCE%s: CRIU's page "
		    "server would fail; run sysctl -w fs.pipe-max-size=%d",
		    f->pipe_max_size,
		    o->how.no_sysctl ? " (--no-sysctl)" : "; it cannot be raised from here",
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

/* The TCP test dump: CRIU 4.1.1 cannot dump any TCP socket on kernels that refuse
 * SO_PASSCRED on inet sockets (docs/notes-real-services.md).  It stops the migration of a
 * container that has TCP sockets (or asks for --tcp-established); for one without, it is a
 * warning. */
static void eval_tcp(struct doctor_report *r, const char *host, const struct host_facts *f,
		     const struct host_facts *src, const struct plan *o)
{
	const char *name = "tcp dump", *v = or_unknown(f->criu_version);
	int needed = src->container_tcp != 0 || o->how.criu.tcp_established;
	switch (f->tcp) {
	case HANG_OK:
		add(r, host, name, CHECK_OK, TECHS_ALL,
		    "criu %s dumps a process with a listening and a connected TCP socket (%lld ms)",
		    v, f->tcp_ms);
		break;
	case HANG_FAILED:
	case HANG_HANGS:
		add(r, host, name, needed ? CHECK_FAIL : CHECK_WARN, TECHS_ALL,
		    "criu %s cannot dump TCP sockets here: %s%s", v, or_unknown(f->tcp_detail),
		    needed ? "; install a CRIU that can (scripts/install-deps takes 4.2 or later)"
			   : "; the container has no TCP socket now, it could not move once it "
			     "opens one");
		break;
	default:
		add(r, host, name, CHECK_WARN, TECHS_ALL, "not run%s%s",
		    f->tcp_detail ? ": " : " (--no-hang-test)", f->tcp_detail ? f->tcp_detail : "");
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

void doctor_evaluate(const struct plan *o, const struct host_facts *src,
		     const struct host_facts *dst, const struct doctor_link *l,
		     struct doctor_report *r)
{
	memset(r, 0, sizeof(*r));
	r->chosen = o->how.technique;
	/* the source */
	eval_tools(r, "source", src);
	eval_cgroup(r, "source", src);
	eval_bundle(r, "source", src, !o->what.sync_rootfs);
	eval_container(r, o, src, 1);
	eval_feature(r, "source", src, FACTS_FEATURE_DIRTY, TECHS_PRE);
	eval_pipe(r, o, src);
	eval_space(r, "source", src, src->container_memory, "the image: the container's memory");
	eval_hang(r, "source", src);
	eval_tcp(r, "source", src, src, o);
	char opts[192];
	criu_opts_str(&o->how.criu, opts, sizeof(opts));
	add(r, "source", "criu options", CHECK_OK, TECHS_ALL, "%s", opts[0] ? opts : "none");
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
		eval_cgroup(r, "destination", dst);
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
		eval_tcp(r, "destination", dst, src, o);
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
		char *detail = text_escape(c->detail); /* much of it is the destination's */
		fprintf(out, "%-12s %-24s %-6s %s\n", c->host, c->name, status_names[c->status],
			detail);
		free(detail);
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

cJSON *doctor_json(const struct plan *o, const struct doctor_report *r,
		   const struct host_facts *src, const struct host_facts *dst)
{
	int ok = doctor_can_run(r, r->chosen);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "container", o->what.container);
	cJSON_AddStringToObject(j, "destination", o->where.ssh.host);
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
