/* Experiment loops (loop.h). */
#include "loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "migrate.h"
#include "proc.h"
#include "stop.h"
#include "timeouts.h"
#include "transfer.h"

void loop_back_argv(const struct plan *p, const char *back_host, const char *argv[], char buf[64])
{
	size_t n = 0;
	argv[n++] = p->loop.back_cmd;
	argv[n++] = "--json";
	argv[n++] = "--no-progress";
	argv[n++] = "-t";
	argv[n++] = technique_name(p->how.technique);
	argv[n++] = "-b";
	argv[n++] = p->what.base_dir;
	snprintf(buf, 64, "%d", p->where.control_port);
	snprintf(buf + 8, 56, "%d", p->limits.step_s);
	/* The same way to reach migrate-dst and its token as ours, unless --back-opt says. */
	if (p->where.use_port) {
		argv[n++] = "-p";
		argv[n++] = buf;
	} else {
		argv[n++] = "--socket";
		argv[n++] = p->where.socket;
	}
	argv[n++] = "--dst-token-file";
	argv[n++] = p->where.dst_token_file;
	if (p->where.insecure)
		argv[n++] = "--insecure";
	argv[n++] = "--timeout";
	argv[n++] = buf + 8;
	argv[n++] = "--compress";
	argv[n++] = compress_name(p->how.compress);
	if (p->how.replace)
		argv[n++] = "--replace";
	/* The container moves back with the same CRIU options. */
	n = criu_opts_argv(&p->how.criu, argv, n);
	/* Given last, so they override the symmetric defaults above. */
	for (int i = 0; i < p->loop.n_back_opt; i++)
		argv[n++] = p->loop.back_opt[i];
	argv[n++] = "--";
	argv[n++] = p->what.container;
	argv[n++] = back_host;
	argv[n] = NULL;
}

/* The report line in the remote's stdout: the last line that starts with '{'. */
static const char *last_json_line(char *out)
{
	const char *found = NULL;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (line[0] == '{')
			found = line;
	return found;
}

/* Even runs: DEST migrates the container back here with its own migrate-src. */
static int run_back(const struct plan *p, const char *back_host, struct mig_report *r)
{
	struct xfer_ctx x = {.ssh = p->where.ssh};
	const char *cmd[PLAN_MAX_BACK_OPT + 40];
	char buf[64];
	loop_back_argv(p, back_host, cmd, buf);
	struct xfer_argv a;
	struct mig_err *e = NULL;
	int rc = EXIT_NEEDS_HUMAN;
	if (xfer_remote_argv(&x, cmd, &a, &e) < 0) {
		report_fail(r, EXIT_USAGE, mig_err_msg(e));
		mig_err_free(&e);
		return EXIT_USAGE;
	}
	struct proc_opts po = {.timeout_ms =
				   LAZY_FACTOR * p->tools.runc.timeout_ms + BACK_EXTRA_MS};
	struct proc_result res;
	int ran = proc_run(a.argv, &po, &res, &e);
	const char *line = ran == 0 ? last_json_line(res.out) : NULL;
	if (line && report_from_json(r, line, &e) == 0) {
		rc = r->exit_code;
		if (res.exited && res.exit_code != rc)
			report_warn(r, "way back: %s exited %d, its report says %d",
				    p->loop.back_cmd, res.exit_code, rc);
	} else {
		/* No report: ssh failed, or the remote migrate-src died; where the container is
		 * cannot be known from here. */
		if (ran == 0)
			proc_result_err(a.argv, &res, &e);
		mig_err_wrap(&e,
			     "the way-back migration on %s left no report (check both hosts "
			     "with runc list)",
			     p->where.ssh.host);
		report_fail(r, EXIT_NEEDS_HUMAN, mig_err_msg(e));
	}
	mig_err_free(&e);
	proc_result_free(&res);
	xfer_argv_free(&a);
	return rc;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* Median, min and max of the n values v (sorted in place); n > 0. */
static void stats3(long long *v, int n, long long out[3])
{
	qsort(v, (size_t)n, sizeof(*v), cmp_ll);
	out[0] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	out[1] = v[0];
	out[2] = v[n - 1];
}

static int back_host_of(const struct plan *p, char *buf, size_t len, struct mig_err **err)
{
	if (p->loop.back_host) {
		snprintf(buf, len, "%s", p->loop.back_host);
		return 0;
	}
	if (conn_local_addr_towards(p->where.ssh.host, buf, len, err) == 0)
		return 0;
	return mig_err_wrap(err, "--repeat: how does %s reach this host? give --back-host",
			    p->where.ssh.host);
}

int loop_run(const struct plan *p, loop_report_fn on_report, void *ctx, struct loop_summary *sum,
	     struct mig_err **err)
{
	char back[256] = "";
	int repeat = p->loop.repeat;
	memset(sum, 0, sizeof(*sum));
	if (repeat > 1 && back_host_of(p, back, sizeof(back), err) < 0)
		return EXIT_USAGE;
	long long *down = mig_xcalloc((size_t)repeat, sizeof(long long));
	long long *total = mig_xcalloc((size_t)repeat, sizeof(long long));
	int rc = EXIT_MIGRATED;
	for (int run = 1; run <= repeat && rc == EXIT_MIGRATED; run++) {
		if (run > 1 && stop_requested()) {
			sum->stopped = run - 1;
			break;
		}
		struct mig_report r;
		report_init(&r, "source", p->what.container, technique_name(p->how.technique));
		rc = run % 2 ? migrate_run(p, &r) : run_back(p, back, &r);
		r.run = repeat > 1 ? run : 0;
		sum->runs++;
		on_report(p, &r, ctx);
		if (rc == EXIT_MIGRATED) {
			down[sum->migrated] = r.downtime_ms;
			total[sum->migrated++] = r.total_ms;
		}
	}
	if (sum->migrated > 0) {
		stats3(down, sum->migrated, sum->downtime_ms);
		stats3(total, sum->migrated, sum->total_ms);
	}
	free(down);
	free(total);
	return rc;
}
