/* migrate-dst, post-copy: the `criu lazy-pages` daemon that fetches the memory pages from
 * the source's page server after `runc restore --lazy-pages`. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "criu.h"
#include "dst_int.h"
#include "log.h"
#include "proc.h"
#include "proto.h"

/* How long criu lazy-pages may take to open its socket. */
#define LAZY_SOCKET_WAIT_MS 10000

/* The page server the source runs, as the request gives it: an IP address and a port. */
static int req_page_server(const cJSON *req, char addr[64], char port[8], struct mig_err **err)
{
	const char *a = proto_get_str(req, "page_server_addr", 1, err);
	double p = 0;
	if (!a || proto_get_num(req, "page_server_port", &p, 1, err) < 0)
		return -1;
	unsigned char buf[16];
	if (strlen(a) >= 64 ||
	    (inet_pton(AF_INET, a, buf) != 1 && inet_pton(AF_INET6, a, buf) != 1))
		return mig_err_set(err, 0, "page_server_addr is not an IP address");
	if (p < 1 || p > 65535 || p != (int)p)
		return mig_err_set(err, 0, "page_server_port out of range");
	snprintf(addr, 64, "%s", a);
	snprintf(port, 8, "%d", (int)p);
	return 0;
}

/* Starts `criu lazy-pages` for a lazy restore and waits for its socket in the work dir,
 * which `criu restore --lazy-pages` connects to. */
int dst_lazy_start(struct dst_ctx *d, struct dst_session *s, const cJSON *req,
		   const struct bundle_info *b, struct mig_err **err)
{
	char addr[64], port[8];
	if (req_page_server(req, addr, port, err) < 0)
		return -1;
	char *image = bundle_path(b, "image"), *work = bundle_path(b, "work");
	char *log = mig_strdup_printf("%s/lazy-pages.log", work);
	char *sock = mig_strdup_printf("%s/lazy-pages.socket", work);
	int r = fs_mkdir_p(work, 0700, err);
	if (r == 0) {
		const char *argv[CRIU_MAX_ARGS];
		criu_lazy_pages_argv(d->o->criu, addr, port, image, work, log, argv);
		struct proc_opts po = {.timeout_ms = d->o->timeout_s * 4000, .stdout_null = 1};
		r = proc_spawn(&s->lazy, argv, &po, err);
	}
	if (r == 0) {
		s->lazy_running = 1;
		s->lazy_log = log;
		log = NULL;
		long long deadline = proc_now_ms() + LAZY_SOCKET_WAIT_MS;
		struct proc_result res;
		int w = 1;
		while (!fs_exists(sock) && proc_now_ms() < deadline &&
		       (w = proc_wait_for(&s->lazy, 20, &res, err)) == 1)
			;
		if (w == 0) {
			const char *argv[] = {"criu lazy-pages", NULL};
			s->lazy_running = 0;
			r = proc_result_err(argv, &res, err);
			if (r == 0)
				r = mig_err_set(err, 0, "criu lazy-pages exited before serving");
			proc_result_free(&res);
		} else if (w < 0) {
			r = -1;
		} else if (!fs_exists(sock)) {
			r = mig_err_set(err, 0, "criu lazy-pages did not start (no %s)", sock);
		}
	}
	free(image);
	free(work);
	free(log);
	free(sock);
	return r;
}

void dst_lazy_stop(struct dst_session *s)
{
	if (!s->lazy_running)
		return;
	struct proc_result res;
	proc_kill(&s->lazy, &res);
	proc_result_free(&res);
	s->lazy_running = 0;
}

void dst_lazy_finish(struct dst_ctx *d, struct dst_session *s, struct mig_conn *c)
{
	struct proc_result res;
	struct mig_err *e = NULL;
	cJSON *msg = proto_msg("lazy_done");
	if (proc_wait(&s->lazy, &res, &e) < 0) {
		cJSON_AddBoolToObject(msg, "ok", 0);
		cJSON_AddStringToObject(msg, "error", mig_err_msg(e));
	} else {
		const char *argv[] = {"criu lazy-pages", NULL};
		int ok = res.exited && res.exit_code == 0 && !res.timed_out;
		s->report.lazy_ms = proc_now_ms() - s->restore_done_ms;
		s->report.lazy_bytes = criu_lazy_log_bytes(s->lazy_log);
		cJSON_AddBoolToObject(msg, "ok", ok);
		cJSON_AddNumberToObject(msg, "lazy_ms", (double)s->report.lazy_ms);
		if (s->report.lazy_bytes != REPORT_NONE)
			cJSON_AddNumberToObject(msg, "lazy_bytes", (double)s->report.lazy_bytes);
		if (!ok) {
			proc_result_err(argv, &res, &e);
			dst_discard_copy(d, s, "incomplete copy", &e);
			cJSON_AddStringToObject(msg, "error", mig_err_msg(e));
			report_fail(&s->report, 1, mig_err_msg(e));
		}
		proc_result_free(&res);
	}
	s->lazy_running = 0;
	mig_err_free(&e);
	if (proto_send(c, msg, &e) < 0) {
		log_warn("%s", mig_err_msg(e));
		mig_err_free(&e);
	}
	cJSON_Delete(msg);
}
