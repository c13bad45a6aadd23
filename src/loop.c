#include "loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "migrate.h"
#include "proc.h"
#include "report.h"
#include "transfer.h"

/* The way back runs a whole migration on DEST: its own step limits apply; this one only
 * catches a remote side that never ends. */
#define BACK_EXTRA_MS (600 * 1000)

void loop_back_argv(const struct src_opts *o, const char *back_host, const char *argv[],
		    char buf[64])
{
	size_t n = 0;
	argv[n++] = o->back_cmd;
	argv[n++] = "--json";
	argv[n++] = "--no-progress";
	argv[n++] = "-t";
	argv[n++] = technique_name(o->technique);
	argv[n++] = "-b";
	argv[n++] = o->base_dir;
	snprintf(buf, 64, "%d", o->port);
	snprintf(buf + 8, 56, "%d", o->timeout_s);
	argv[n++] = "-p";
	argv[n++] = buf;
	argv[n++] = "--timeout";
	argv[n++] = buf + 8;
	argv[n++] = "--compress";
	argv[n++] = compress_name(o->compress);
	if (o->replace)
		argv[n++] = "--replace";
	/* Given last, so they override the symmetric defaults above. */
	for (int i = 0; i < o->n_back_opt; i++)
		argv[n++] = o->back_opt[i];
	argv[n++] = "--";
	argv[n++] = o->container;
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
static int run_back(const struct src_opts *o, const char *back_host, struct mig_report *r)
{
	struct xfer_ctx x = {.host = o->dest_host,
			     .user = o->ssh_user,
			     .ssh_port = o->ssh_port,
			     .identity = o->identity,
			     .known_hosts = o->known_hosts};
	const char *cmd[MAX_BACK_OPT + 24];
	char buf[64];
	loop_back_argv(o, back_host, cmd, buf);
	struct xfer_argv a;
	struct mig_err *e = NULL;
	int rc = EXIT_NEEDS_HUMAN;
	if (xfer_remote_argv(&x, cmd, &a, &e) < 0) {
		report_fail(r, EXIT_USAGE, mig_err_msg(e));
		mig_err_free(&e);
		return EXIT_USAGE;
	}
	struct proc_opts po = {.timeout_ms = o->timeout_s * 4000 + BACK_EXTRA_MS};
	struct proc_result res;
	int ran = proc_run(a.argv, &po, &res, &e);
	const char *line = ran == 0 ? last_json_line(res.out) : NULL;
	if (line && report_from_json(r, line, &e) == 0) {
		rc = r->exit_code;
		if (res.exited && res.exit_code != rc)
			log_warn("way back: %s exited %d, its report says %d", o->back_cmd,
				 res.exit_code, rc);
	} else {
		/* No report: ssh failed, or the remote migrate-src died; where the container is
		 * cannot be known from here. */
		if (ran == 0)
			proc_result_err(a.argv, &res, &e);
		mig_err_wrap(&e,
			     "the way-back migration on %s left no report (check both hosts "
			     "with runc list)",
			     o->dest_host);
		report_fail(r, EXIT_NEEDS_HUMAN, mig_err_msg(e));
	}
	mig_err_free(&e);
	proc_result_free(&res);
	xfer_argv_free(&a);
	return rc;
}

static void print_report(const struct src_opts *o, const struct mig_report *r)
{
	if (!r->ok)
		log_error("%s", r->error);
	if (o->json) {
		char *j = report_json(r);
		printf("%s\n", j);
		free(j);
	} else if (o->verbose >= 0) {
		if (r->run)
			printf("run %d of %d: %s\n", r->run, o->repeat,
			       r->run % 2 ? "there" : "back");
		report_print_table(r, stdout);
	}
	fflush(stdout);
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

static void print_summary(const struct src_opts *o, long long *down, long long *total, int n,
			  int done)
{
	long long d[3] = {0, 0, 0}, t[3] = {0, 0, 0};
	if (n > 0) {
		stats3(down, n, d);
		stats3(total, n, t);
	}
	if (o->json) {
		printf(
		    "{\"summary\":true,\"container\":\"%s\",\"technique\":\"%s\",\"runs\":%d,"
		    "\"migrated\":%d,\"downtime_ms\":{\"median\":%lld,\"min\":%lld,\"max\":%lld},"
		    "\"total_ms\":{\"median\":%lld,\"min\":%lld,\"max\":%lld}}\n",
		    o->container, technique_name(o->technique), done, n, d[0], d[1], d[2], t[0],
		    t[1], t[2]);
	} else if (o->verbose >= 0) {
		printf("summary: %d of %d runs migrated %s (%s)\n", n, o->repeat, o->container,
		       technique_name(o->technique));
		if (n > 0)
			printf("  downtime  median %lld ms  min %lld ms  max %lld ms\n"
			       "  total     median %lld ms  min %lld ms  max %lld ms\n",
			       d[0], d[1], d[2], t[0], t[1], t[2]);
	}
	fflush(stdout);
}

static int back_host_of(const struct src_opts *o, char *buf, size_t len)
{
	if (o->back_host) {
		snprintf(buf, len, "%s", o->back_host);
		return 0;
	}
	struct mig_err *e = NULL;
	if (conn_local_addr_towards(o->dest_host, buf, len, &e) == 0)
		return 0;
	log_error("--repeat: how does %s reach this host? %s; give --back-host", o->dest_host,
		  mig_err_msg(e));
	mig_err_free(&e);
	return -1;
}

int loop_run(const struct src_opts *o)
{
	char back[256] = "";
	if (o->repeat > 1 && back_host_of(o, back, sizeof(back)) < 0)
		return EXIT_USAGE;
	long long *down = mig_xcalloc((size_t)o->repeat, sizeof(long long));
	long long *total = mig_xcalloc((size_t)o->repeat, sizeof(long long));
	int rc = EXIT_MIGRATED, n_ok = 0, done = 0;
	for (int run = 1; run <= o->repeat && rc == EXIT_MIGRATED; run++) {
		if (run > 1 && migrate_stop_requested()) {
			log_warn("loop stopped after run %d: interrupted by a signal", run - 1);
			break;
		}
		struct mig_report r;
		report_init(&r, "source", o->container, technique_name(o->technique));
		rc = run % 2 ? migrate_run(o, &r) : run_back(o, back, &r);
		r.run = o->repeat > 1 ? run : 0;
		done++;
		print_report(o, &r);
		struct mig_err *e = NULL;
		if (o->csv && report_csv_append(o->csv, &r, &e) < 0) {
			log_error("%s", mig_err_msg(e));
			mig_err_free(&e);
		}
		if (rc == EXIT_MIGRATED) {
			down[n_ok] = r.downtime_ms;
			total[n_ok++] = r.total_ms;
		}
	}
	if (o->repeat > 1)
		print_summary(o, down, total, n_ok, done);
	free(down);
	free(total);
	return rc;
}
