#include "transfer.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "proc.h"
#include "timeouts.h"

#define RSYNC_IO_TIMEOUT_STR2(s) "--timeout=" #s
#define RSYNC_IO_TIMEOUT_STR(s)	 RSYNC_IO_TIMEOUT_STR2(s)
/* rsync gives up by itself after this long without I/O: a dead link must not hold the
 * container frozen until the overall timeout. */
#define RSYNC_IO_TIMEOUT RSYNC_IO_TIMEOUT_STR(RSYNC_IO_TIMEOUT_S)

/* The remote paths go to the remote rsync through its protocol, not through the remote
 * shell (rsync >= 3.0 knows -s; 3.2.4 named it --secluded-args, preflight.c asks for at
 * least that unless --allow-old-rsync).  The base dir a destination reports is checked
 * too (session.c), so even an rsync that ignored this could not be made to run a command. */
#define RSYNC_SECLUDED "-s"
/* The first rsync that names -s --secluded-args and defaults to it with RSYNC_OLD_ARGS
 * unset (3.2.4); older ones split remote paths on the remote shell's rules by default. */
#define RSYNC_SECLUDED_SINCE "3.2.4"

/* The one ssh command line every OpenSSH process of ours runs (rsync's -e, the master,
 * the way back of --repeat), made from the same ssh_target as our libssh session:
 * ssh -p PORT [-i ID] [-o UserKnownHostsFile=KH], with `master` the master connection's
 * socket (use it, never become one), the options every ssh we run uses, `after`
 * (NULL-terminated), and -l USER.  BatchMode: never prompt (a prompt in the downtime would
 * hang the migration); StrictHostKeyChecking: the rule our libssh session applies.
 * Uses a->owned[0] and [1]. */
static size_t ssh_argv(const struct xfer_ctx *x, struct xfer_argv *a, int master,
		       const char *const after[])
{
	static const char *const fixed[] = {
	    "-o", "BatchMode=yes",     "-o", "StrictHostKeyChecking=yes",
	    "-o", "ConnectTimeout=30", "-o", "Compression=no"};
	memset(a, 0, sizeof(*a));
	size_t n = 0;
	a->argv[n++] = "ssh";
	a->owned[0] = mig_strdup_printf("%d", x->ssh.port);
	a->argv[n++] = "-p";
	a->argv[n++] = a->owned[0];
	if (x->ssh.identity) {
		a->argv[n++] = "-i";
		a->argv[n++] = x->ssh.identity;
	}
	if (x->ssh.known_hosts) {
		a->owned[1] = mig_strdup_printf("UserKnownHostsFile=%s", x->ssh.known_hosts);
		a->argv[n++] = "-o";
		a->argv[n++] = a->owned[1];
	}
	if (master && x->control_path) {
		a->argv[n++] = "-S";
		a->argv[n++] = x->control_path;
		a->argv[n++] = "-o";
		a->argv[n++] = "ControlMaster=no";
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		a->argv[n++] = fixed[i];
	for (size_t i = 0; after && after[i]; i++)
		a->argv[n++] = after[i];
	a->argv[n++] = "-l";
	a->argv[n++] = x->ssh.user;
	a->argv[n] = NULL;
	return n;
}

/* One argument of rsync's -e: rsync splits that string on spaces and honours quotes, so
 * an argument with a space is single-quoted and one with a quote or backslash refused
 * rather than escaped: what ssh gets is never a surprise. */
static int put_e_arg(char **s, const char *arg, struct mig_err **err)
{
	if (strpbrk(arg, "'\"\\"))
		return mig_err_set(err, 0, "'%s' has a quote or backslash; not supported", arg);
	int q = strpbrk(arg, " \t") != NULL;
	char *next =
	    mig_strdup_printf("%s%s%s%s%s", *s, **s ? " " : "", q ? "'" : "", arg, q ? "'" : "");
	free(*s);
	*s = next;
	return 0;
}

char *xfer_ssh_command(const struct xfer_ctx *x, struct mig_err **err)
{
	/* rsync puts the host right after this: "--" first, so it can never be an option. */
	struct xfer_argv a;
	size_t n = ssh_argv(x, &a, 1, NULL);
	a.argv[n++] = "--";
	a.argv[n] = NULL;
	char *s = mig_xstrdup("");
	for (size_t i = 0; a.argv[i]; i++) {
		if (put_e_arg(&s, a.argv[i], err) < 0) {
			free(s);
			s = NULL;
			break;
		}
	}
	xfer_argv_free(&a);
	return s;
}

int xfer_master_argv(const struct xfer_ctx *x, const char *path, struct xfer_argv *a)
{
	/* -N: no command, only the connection; the keepalives end a master whose peer
	 * vanished instead of leaving it hanging. */
	const char *const after[] = {"-o", "ServerAliveInterval=15",
				     "-o", "ServerAliveCountMax=4",
				     "-o", "ControlMaster=yes",
				     "-o", "ControlPersist=no",
				     "-N", "-S",
				     path, NULL};
	size_t n = ssh_argv(x, a, 0, after);
	a->argv[n++] = "--";
	a->argv[n++] = x->ssh.host;
	a->argv[n] = NULL;
	return 0;
}

int xfer_remote_argv(const struct xfer_ctx *x, const char *const cmd[], struct xfer_argv *a,
		     struct mig_err **err)
{
	size_t n = ssh_argv(x, a, 1, NULL);
	a->argv[n++] = "--";
	a->argv[n++] = x->ssh.host;
	/* The remote side runs the command through the user's shell: every argument is
	 * single-quoted (a quote inside becomes '\'') so nothing in it is interpreted. */
	size_t len = 1;
	for (size_t i = 0; cmd[i]; i++)
		len += strlen(cmd[i]) * 4 + 3;
	char *q = mig_xmalloc(len), *o = q;
	for (size_t i = 0; cmd[i]; i++) {
		if (i)
			*o++ = ' ';
		*o++ = '\'';
		for (const char *c = cmd[i]; *c; c++) {
			if (*c == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else {
				*o++ = *c;
			}
		}
		*o++ = '\'';
	}
	*o = '\0';
	if (n + 2 > XFER_MAX_ARGS) {
		free(q);
		xfer_argv_free(a);
		return mig_err_set(err, 0, "ssh: too many arguments");
	}
	a->owned[2] = q;
	a->argv[n++] = q;
	a->argv[n] = NULL;
	return 0;
}

/* 0 once `ssh -O check` says the master runs. */
static int master_ready(const struct xfer_ctx *x, const char *path)
{
	const char *argv[] = {"ssh", "-S",	  path, "-O",	     "check",
			      "-l",  x->ssh.user, "--", x->ssh.host, NULL};
	struct proc_opts po = {.timeout_ms = SSH_MASTER_CHECK_MS, .stdout_null = 1};
	struct proc_result res;
	struct mig_err *e = NULL;
	int r = proc_run(argv, &po, &res, &e);
	int ok = r == 0 && res.exited && res.exit_code == 0;
	proc_result_free(&res);
	mig_err_free(&e);
	return ok ? 0 : -1;
}

int xfer_master_start(struct xfer_ctx *x, struct xfer_master *m, struct mig_err **err)
{
	memset(m, 0, sizeof(*m));
	const char *tmp = getenv("TMPDIR");
	snprintf(m->dir, sizeof(m->dir), "%s/migrate-src.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(m->dir)) {
		int e = errno;
		m->dir[0] = '\0';
		return mig_err_set(err, e, "ssh master: mkdtemp");
	}
	snprintf(m->path, sizeof(m->path), "%s/ssh.sock", m->dir);
	struct xfer_argv a;
	xfer_master_argv(x, m->path, &a);
	m->proc = mig_xcalloc(1, sizeof(*m->proc));
	/* No timeout of its own: it lives as long as the migration and is ended by PID. */
	struct proc_opts po = {.timeout_ms = 0, .stdout_null = 1};
	int r = proc_spawn(m->proc, a.argv, &po, err);
	xfer_argv_free(&a);
	if (r < 0) {
		free(m->proc);
		m->proc = NULL;
		xfer_master_stop(x, m);
		return mig_err_wrap(err, "ssh master");
	}
	long long deadline = proc_now_ms() + SSH_MASTER_READY_MS;
	struct proc_result res;
	while (proc_now_ms() < deadline) {
		int w = proc_wait_for(m->proc, 50, &res, err);
		if (w == 0) { /* the master exited: ssh says why */
			const char *argv[] = {"ssh master connection", NULL};
			proc_result_err(argv, &res, err);
			proc_result_free(&res);
			free(m->proc);
			m->proc = NULL;
			xfer_master_stop(x, m);
			return -1;
		}
		if (w < 0 || master_ready(x, m->path) == 0)
			break;
	}
	if (master_ready(x, m->path) < 0) {
		xfer_master_stop(x, m);
		return mig_err_set(err, 0, "ssh master connection to %s not ready after %d s",
				   x->ssh.host, SSH_MASTER_READY_MS / 1000);
	}
	x->control_path = m->path;
	return 0;
}

void xfer_master_stop(struct xfer_ctx *x, struct xfer_master *m)
{
	if (m->proc) {
		proc_kill(m->proc, NULL);
		free(m->proc);
		m->proc = NULL;
	}
	if (m->dir[0]) {
		unlink(m->path);
		rmdir(m->dir);
		m->dir[0] = '\0';
	}
	if (x && x->control_path == m->path)
		x->control_path = NULL;
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
	a->argv[n++] = RSYNC_SECLUDED;
	a->argv[n++] = RSYNC_IO_TIMEOUT;
	if (x->compress) {
		a->owned[2] = mig_strdup_printf("--compress-choice=%s", x->compress);
		a->argv[n++] = "-z";
		a->argv[n++] = a->owned[2];
	}
	if (x->progress)
		a->argv[n++] = "--info=progress2";
	a->argv[n++] = "-e";
	a->argv[n++] = ssh;
	a->argv[n++] = "--";
	for (size_t i = 0; i < nsrcs; i++)
		a->argv[n++] = srcs[i];
	a->owned[1] = conn_host_join(x->ssh.host, ":%s/", remote_dir);
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

void xfer_progress_line(const char *out, size_t len, char *buf, size_t buflen)
{
	buf[0] = '\0';
	/* Reports are separated by \r; the last one may still be being written. */
	size_t end = len;
	while (end > 0) {
		size_t start = end;
		while (start > 0 && out[start - 1] != '\r' && out[start - 1] != '\n')
			start--;
		const char *pct = memchr(out + start, '%', end - start);
		if (pct && end - start < buflen && memchr(out + start, '/', end - start)) {
			while (start < end && out[start] == ' ')
				start++;
			size_t n = end - start;
			memcpy(buf, out + start, n);
			buf[n] = '\0';
			/* drop rsync's "(xfr#1, to-chk=0/3)" tail */
			char *paren = strchr(buf, '(');
			if (paren)
				*paren = '\0';
			for (n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
				buf[n - 1] = '\0';
			return;
		}
		if (start == 0)
			break;
		end = start - 1;
	}
}

/* Waits for rsync, redrawing one progress line on stderr from its growing stdout. */
static int wait_with_progress(const struct xfer_ctx *x, struct proc *p, struct proc_result *res,
			      struct mig_err **err)
{
	char line[160], last[160] = "";
	size_t cap = 1 << 16;
	char *buf = mig_xmalloc(cap);
	int w;
	while ((w = proc_wait_for(p, 250, res, err)) == 1) {
		off_t size = lseek(p->out_fd, 0, SEEK_END);
		size_t n = size > (off_t)cap ? cap : (size_t)(size > 0 ? size : 0);
		ssize_t got = pread(p->out_fd, buf, n, size - (off_t)n);
		xfer_progress_line(buf, got > 0 ? (size_t)got : 0, line, sizeof(line));
		if (line[0] && strcmp(line, last)) {
			fprintf(stderr, "\r\033[K%s: %s", x->label ? x->label : "transfer", line);
			snprintf(last, sizeof(last), "%s", line);
		}
	}
	free(buf);
	if (last[0])
		fputs("\r\033[K", stderr);
	return w;
}

/* Runs the rsync command in a (freed here), with the progress line when progress is set;
 * its sizes into st. */
static int run_rsync(const struct xfer_ctx *x, struct xfer_argv *a, int progress,
		     struct xfer_stats *st, struct mig_err **err)
{
	if (log_get_level() >= LOG_DEBUG) {
		char *s = proc_argv_str(a->argv);
		log_debug("running %s", s);
		free(s);
	}
	/* Neither may turn the remote paths back into words for the remote shell. */
	static const char *const env[] = {"RSYNC_OLD_ARGS", "RSYNC_PROTECT_ARGS", NULL};
	struct proc_opts po = {.timeout_ms = x->timeout_ms, .env_add = env};
	struct proc_result res;
	struct proc p;
	int r = proc_spawn(&p, a->argv, &po, err);
	if (r == 0)
		r = progress ? wait_with_progress(x, &p, &res, err) : proc_wait(&p, &res, err);
	else
		memset(&res, 0, sizeof(res));
	if (r == 0 && (!res.exited || res.exit_code != 0 || res.timed_out))
		r = proc_result_err(a->argv, &res, err);
	if (r == 0) {
		xfer_parse_stats(res.out, st);
		st->elapsed_ms = res.elapsed_ms;
	}
	proc_result_free(&res);
	xfer_argv_free(a);
	return r;
}

int xfer_rsync(const struct xfer_ctx *x, enum xfer_kind kind, const char *const srcs[],
	       size_t nsrcs, const char *remote_dir, struct xfer_stats *st, struct mig_err **err)
{
	struct xfer_argv a;
	memset(st, 0, sizeof(*st));
	if (xfer_build_argv(x, kind, srcs, nsrcs, remote_dir, &a, err) < 0)
		return -1;
	return run_rsync(x, &a, x->progress, st, err);
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
	struct proc_opts po = {.timeout_ms = REMOTE_EXEC_MS};
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
		a.owned[1] = conn_host_join(x->ssh.host, ":%s", remote_dir);
		const char *argv[] = {"rsync",		"--list-only", "--dirs",   RSYNC_SECLUDED,
				      RSYNC_IO_TIMEOUT, "-e",	       a.owned[0], "--",
				      a.owned[1],	NULL};
		memcpy(a.argv, argv, sizeof(argv));
	}
	return run_rsync(x, &a, 0, st, err);
}

/* a < b for dotted versions ("3.2.7" < "3.5.0"); suffixes ignored. */
static int version_below(const char *a, const char *b)
{
	long va[3] = {0, 0, 0}, vb[3] = {0, 0, 0};
	sscanf(a, "%ld.%ld.%ld", &va[0], &va[1], &va[2]);
	sscanf(b, "%ld.%ld.%ld", &vb[0], &vb[1], &vb[2]);
	for (int i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i];
	return 0;
}

int xfer_check_rsync(int allow_old, struct mig_err **err)
{
	char *v = NULL;
	if (xfer_rsync_version(&v, err) < 0)
		return mig_err_wrap(err, "rsync on this host");
	int r = 0;
	if (version_below(v, RSYNC_SECLUDED_SINCE) && !allow_old)
		r = mig_err_set(err, 0,
				"rsync %s on this host is older than %s: by default it passes "
				"remote paths through the remote shell; install a newer rsync, or "
				"give --allow-old-rsync to use it with -s anyway",
				v, RSYNC_SECLUDED_SINCE);
	free(v);
	return r;
}
