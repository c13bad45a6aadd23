/* migrate-src --check, the running part (doctor.h): the connection steps, the
 * destination's facts, rsync on both ends, and our own facts. */
#include "doctor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "report.h"
#include "session.h"
#include "stop.h"
#include "timeouts.h"
#include "transfer.h"

#define RSYNC_VERSION_SIZE 4096

static const char *or_unknown(const char *s)
{
	return s ? s : "unknown";
}

/* SSH, the control channel and hello; each step's outcome goes into l. */
static void connect_steps(struct ctl_session *s, const struct plan *p, struct doctor_link *l)
{
	const struct ssh_target *t = &p->where.ssh;
	struct mig_err *e = NULL;
	l->direct = p->where.direct;
	l->ssh_ok = l->control_ok = -1;
	if (!p->where.direct) {
		l->ssh_ok = session_ssh(s, &e) == 0;
		l->ssh_detail = l->ssh_ok ? mig_strdup_printf("%s@%s:%d: host key known, key "
							      "accepted",
							      t->user, t->host, t->port)
					  : mig_err_take(&e);
		if (!l->ssh_ok) {
			l->control_detail = mig_xstrdup("not tried: no SSH session");
			return;
		}
	}
	l->control_ok = session_control(s, &e) == 0 && session_hello(s, &e) == 0;
	if (!l->control_ok) {
		l->control_detail = mig_err_take(&e);
		return;
	}
	l->auth_on = s->auth_on;
	char where[300];
	if (p->where.use_port)
		snprintf(where, sizeof(where), "on port %d%s", p->where.control_port,
			 p->where.direct ? " (plain TCP)" : " through SSH");
	else
		snprintf(where, sizeof(where), "on the socket %s through SSH", p->where.socket);
	l->control_detail =
	    mig_strdup_printf("migrate-dst %s %s, base dir %s%s", or_unknown(s->dst_version), where,
			      s->base_dir, s->auth_on ? "" : " (it authenticates nothing)");
}

/* The destination's answer to the doctor request sent earlier. */
static int receive_facts(struct ctl_session *s, int hang_ms, struct host_facts *dst,
			 struct doctor_link *l)
{
	struct mig_err *e = NULL;
	cJSON *rep = session_recv(s, DOCTOR_REPLY_MS(hang_ms), &e);
	if (!rep) {
		l->dst_detail =
		    mig_strdup_printf("no answer to the doctor request: %s", mig_err_msg(e));
		mig_err_free(&e);
		return -1;
	}
	int ok = 0;
	proto_get_bool(rep, "ok", &ok, 0, NULL);
	const cJSON *facts = cJSON_GetObjectItemCaseSensitive(rep, "facts");
	const char *code = proto_get_str(rep, "code", 0, NULL);
	int r = -1;
	if (!ok) {
		const char *why = proto_get_str(rep, "error", 0, NULL);
		int old = code && !strcmp(code, PROTO_CODE_UNKNOWN_TYPE);
		l->dst_detail = mig_strdup_printf(
		    "migrate-dst %s refused the doctor request: %s%s", or_unknown(s->dst_version),
		    or_unknown(why), old ? " (it is older than this migrate-src: update it)" : "");
	} else if (facts_from_json(facts, dst, &e) < 0) {
		l->dst_detail = mig_err_take(&e);
	} else {
		r = 0;
	}
	cJSON_Delete(rep);
	return r;
}

/* rsync --version over the SSH session. */
static void remote_rsync(struct ctl_session *s, struct doctor_link *l)
{
	char out[RSYNC_VERSION_SIZE], errb[256];
	int status;
	struct mig_err *e = NULL;
	l->dst_rsync_ok = -1;
	if (!s->ssh)
		return;
	l->dst_rsync_ok = 0;
	if (mig_ssh_exec(s->ssh, "rsync --version", REMOTE_EXEC_MS, out, sizeof(out), errb,
			 sizeof(errb), &status, &e) < 0) {
		l->dst_rsync_error = mig_err_take(&e);
	} else if (status != 0 || !(l->dst_rsync_version = xfer_parse_rsync_version(out))) {
		errb[strcspn(errb, "\n")] = '\0';
		l->dst_rsync_error =
		    mig_strdup_printf("rsync --version over ssh: exit status %d%s%s%s", status,
				      errb[0] ? " (" : "", errb, errb[0] ? ")" : "");
	} else {
		l->dst_rsync_ok = 1;
	}
}

/* The first rootfs pass as a dry run when the bundle allows it; else a listing. */
static void rsync_probe(struct ctl_session *s, const struct plan *p, const struct host_facts *src,
			struct doctor_link *l)
{
	struct xfer_ctx x = {.ssh = p->where.ssh, .timeout_ms = PROBE_MS};
	char *rootfs = NULL, *remote = NULL;
	if (p->what.sync_rootfs && src->bundle_ok && src->root_path &&
	    !strchr(src->root_path, '/') && s->base_dir)
		rootfs = mig_strdup_printf("%s/%s", src->bundle_dir, src->root_path);
	if (rootfs)
		remote = mig_strdup_printf("%s/%s", s->base_dir, p->what.container);
	else
		remote = mig_xstrdup(s->base_dir ? s->base_dir : ".");
	struct xfer_stats st;
	struct mig_err *e = NULL;
	l->probe_bytes = -1;
	l->probe_ok = xfer_probe(&x, rootfs, remote, &st, &e) == 0;
	if (!l->probe_ok) {
		l->probe_detail = mig_err_take(&e);
	} else if (rootfs) {
		char b[32];
		l->probe_bytes = st.file_bytes;
		l->probe_detail = mig_strdup_printf(
		    "works (dry run of the rootfs sync: it would send %s of files)",
		    report_fmt_bytes(st.file_bytes, b, sizeof(b)));
	} else {
		l->probe_detail =
		    mig_strdup_printf("works (listed %s:%s)", p->where.ssh.host, remote);
	}
	free(rootfs);
	free(remote);
}

static void rsync_steps(struct ctl_session *s, const struct plan *p, const struct host_facts *src,
			struct doctor_link *l)
{
	struct mig_err *e = NULL;
	if (xfer_rsync_version(&l->rsync_version, &e) < 0)
		l->rsync_error = mig_err_take(&e);
	remote_rsync(s, l);
	if (stop_requested()) {
		l->probe_detail = mig_xstrdup("not tried: interrupted");
		return;
	}
	rsync_probe(s, p, src, l);
}

/* Sends the doctor request, so that the destination gathers its facts while we gather
 * ours.  0 when it went out. */
static int ask_destination(struct ctl_session *s, const struct plan *p, int hang_ms,
			   struct doctor_link *l)
{
	struct mig_err *e = NULL;
	if (l->control_ok != 1) {
		l->dst_detail = mig_xstrdup("the destination was not reached");
		return -1;
	}
	cJSON *req = facts_request(p->what.container, hang_ms);
	int r = session_send(s, req, &e);
	if (r < 0)
		l->dst_detail = mig_err_take(&e);
	cJSON_Delete(req);
	return r;
}

int doctor_run(const struct plan *p, struct doctor_result *res)
{
	int step_ms = p->tools.runc.timeout_ms;
	int hang_ms = !p->check.hang_test ? 0 : step_ms < HANG_TEST_MS ? step_ms : HANG_TEST_MS;
	struct facts_opts fo = {.runc = &p->tools.runc,
				.criu = p->tools.criu,
				.base_dir = p->what.base_dir,
				.name = p->what.container,
				.hang_test_ms = hang_ms,
				.stop = stop_flag()};
	struct ctl_session s;
	memset(res, 0, sizeof(*res));
	session_init(&s, p);
	connect_steps(&s, p, &res->link);
	int sent = ask_destination(&s, p, hang_ms, &res->link) == 0;
	facts_gather(&fo, &res->src);
	res->have_dst = sent && receive_facts(&s, hang_ms, &res->dst, &res->link) == 0;
	res->link.dst_ok = res->have_dst;
	rsync_steps(&s, p, &res->src, &res->link);
	res->link.interrupted = stop_requested();
	session_close(&s);
	doctor_evaluate(p, &res->src, res->have_dst ? &res->dst : NULL, &res->link, &res->report);
	return doctor_can_run(&res->report, p->how.technique) ? EXIT_MIGRATED : EXIT_REFUSED;
}

void doctor_result_free(struct doctor_result *res)
{
	doctor_report_free(&res->report);
	facts_free(&res->src);
	if (res->have_dst)
		facts_free(&res->dst);
	doctor_link_free(&res->link);
}
