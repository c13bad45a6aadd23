#include "transfer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"

/* Seconds without I/O after which rsync gives up by itself: a dead link must not hold the
 * container frozen until the overall timeout. */
#define RSYNC_IO_TIMEOUT "--timeout=60"

/* rsync splits -e on white space and honours quotes; paths with quotes are refused rather
 * than escaped, so what ssh gets is never a surprise. */
static int quote_arg(char *buf, size_t len, const char *opt, const char *val, struct mig_err **err)
{
	if (strpbrk(val, "'\"\\"))
		return mig_err_set(err, 0, "path '%s' has a quote or backslash; not supported",
				   val);
	if (strpbrk(val, " \t"))
		snprintf(buf, len, " %s '%s'", opt, val);
	else
		snprintf(buf, len, " %s %s", opt, val);
	return 0;
}

char *xfer_ssh_command(const struct xfer_ctx *x, struct mig_err **err)
{
	char id[4200] = "", kh[4200] = "";
	if (x->identity && quote_arg(id, sizeof(id), "-i", x->identity, err) < 0)
		return NULL;
	if (x->known_hosts) {
		char opt[4200];
		snprintf(opt, sizeof(opt), "UserKnownHostsFile=%s", x->known_hosts);
		if (quote_arg(kh, sizeof(kh), "-o", opt, err) < 0)
			return NULL;
	}
	/* BatchMode: never prompt (a prompt in the downtime window would hang the migration).
	 * StrictHostKeyChecking: the same rule our own SSH session applies. */
	return mig_strdup_printf("ssh -p %d%s%s -o BatchMode=yes -o StrictHostKeyChecking=yes "
				 "-o ConnectTimeout=30 -o Compression=no -l %s",
				 x->ssh_port, id, kh, x->user);
}

void xfer_argv_free(struct xfer_argv *a)
{
	for (size_t i = 0; i < sizeof(a->owned) / sizeof(a->owned[0]); i++) {
		free(a->owned[i]);
		a->owned[i] = NULL;
	}
}

int xfer_build_argv(const struct xfer_ctx *x, enum xfer_kind kind, const char *const srcs[],
		    size_t nsrcs, const char *remote_dir, struct xfer_argv *a, struct mig_err **err)
{
	memset(a, 0, sizeof(*a));
	if (nsrcs == 0 || nsrcs > 8)
		return mig_err_set(err, 0, "rsync: %zu sources (1 to 8)", nsrcs);
	char *ssh = xfer_ssh_command(x, err);
	if (!ssh)
		return -1;
	size_t n = 0;
	a->owned[0] = ssh;
	a->argv[n++] = "rsync";
	a->argv[n++] = kind == XFER_ROOTFS ? "-aHAX" : "-a";
	if (kind == XFER_ROOTFS)
		a->argv[n++] = "--numeric-ids";
	a->argv[n++] = "--delete";
	/* Never descend into a mount below the source dir (a container's bind mounts). */
	a->argv[n++] = "--one-file-system";
	a->argv[n++] = "--stats";
	a->argv[n++] = RSYNC_IO_TIMEOUT;
	a->argv[n++] = "-e";
	a->argv[n++] = ssh;
	for (size_t i = 0; i < nsrcs; i++)
		a->argv[n++] = srcs[i];
	/* A host with ':' is an IPv6 address: rsync wants it in brackets. */
	int v6 = strchr(x->host, ':') != NULL;
	a->owned[1] =
	    mig_strdup_printf("%s%s%s:%s/", v6 ? "[" : "", x->host, v6 ? "]" : "", remote_dir);
	a->argv[n++] = a->owned[1];
	a->argv[n] = NULL;
	return 0;
}

/* "Total bytes sent: 1,234,567" -> 1234567 (rsync groups digits with , or .). */
static long long stat_value(const char *out, const char *key)
{
	const char *p = strstr(out, key);
	if (!p)
		return -1;
	p += strlen(key);
	while (*p == ' ')
		p++;
	long long v = 0;
	int any = 0;
	for (; *p && (isdigit((unsigned char)*p) || *p == ',' || *p == '.'); p++) {
		if (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p - '0');
			any = 1;
		}
	}
	return any ? v : -1;
}

void xfer_parse_stats(const char *out, struct xfer_stats *st)
{
	st->bytes_sent = stat_value(out, "Total bytes sent:");
	st->file_bytes = stat_value(out, "Total transferred file size:");
}

int xfer_rsync(const struct xfer_ctx *x, enum xfer_kind kind, const char *const srcs[],
	       size_t nsrcs, const char *remote_dir, struct xfer_stats *st, struct mig_err **err)
{
	struct xfer_argv a;
	memset(st, 0, sizeof(*st));
	if (xfer_build_argv(x, kind, srcs, nsrcs, remote_dir, &a, err) < 0)
		return -1;
	if (log_get_level() >= LOG_DEBUG) {
		char *s = proc_argv_str(a.argv);
		log_debug("running %s", s);
		free(s);
	}
	struct proc_opts po = {.timeout_ms = x->timeout_ms};
	struct proc_result res;
	int r = proc_run_ok(a.argv, &po, &res, err);
	if (r == 0) {
		xfer_parse_stats(res.out, st);
		st->elapsed_ms = res.elapsed_ms;
	}
	proc_result_free(&res);
	xfer_argv_free(&a);
	return r;
}

char *xfer_parse_rsync_version(const char *out)
{
	const char *p = strstr(out, "version ");
	if (!p)
		return NULL;
	p += strlen("version ");
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, " \t\r\n");
	return n ? strndup(p, n) : NULL;
}

int xfer_rsync_version(char **version, struct mig_err **err)
{
	const char *argv[] = {"rsync", "--version", NULL};
	struct proc_opts po = {.timeout_ms = 30000};
	struct proc_result res;
	*version = NULL;
	int r = proc_run_ok(argv, &po, &res, err);
	if (r == 0 && !(*version = xfer_parse_rsync_version(res.out)))
		r = mig_err_set(err, 0, "rsync --version: unrecognised output");
	proc_result_free(&res);
	return r;
}

int xfer_probe(const struct xfer_ctx *x, const char *src, const char *remote_dir,
	       struct xfer_stats *st, struct mig_err **err)
{
	struct xfer_argv a;
	memset(st, 0, sizeof(*st));
	if (src) {
		const char *srcs[] = {src};
		if (xfer_build_argv(x, XFER_ROOTFS, srcs, 1, remote_dir, &a, err) < 0)
			return -1;
		/* The same command, as a dry run: rsync changes nothing on either side. */
		size_t n = 0;
		while (a.argv[n])
			n++;
		memmove(&a.argv[2], &a.argv[1], n * sizeof(a.argv[0]));
		a.argv[1] = "--dry-run";
	} else {
		memset(&a, 0, sizeof(a));
		a.owned[0] = xfer_ssh_command(x, err);
		if (!a.owned[0])
			return -1;
		int v6 = strchr(x->host, ':') != NULL;
		a.owned[1] = mig_strdup_printf("%s%s%s:%s", v6 ? "[" : "", x->host, v6 ? "]" : "",
					       remote_dir);
		const char *argv[] = {"rsync", "--list-only", "--dirs",	  RSYNC_IO_TIMEOUT,
				      "-e",    a.owned[0],    a.owned[1], NULL};
		memcpy(a.argv, argv, sizeof(argv));
	}
	struct proc_opts po = {.timeout_ms = x->timeout_ms};
	struct proc_result res;
	int r = proc_run_ok(a.argv, &po, &res, err);
	if (r == 0) {
		xfer_parse_stats(res.out, st);
		st->elapsed_ms = res.elapsed_ms;
	}
	proc_result_free(&res);
	xfer_argv_free(&a);
	return r;
}
