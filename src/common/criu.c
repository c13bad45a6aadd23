#include "criu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "runc.h"
#include "text.h"
#include "timeouts.h"

#define CAP_SYS_RESOURCE_BIT 24
/* How much of a CRIU log is searched for its errors, and quoted when it has none. */
#define LOG_SEARCH_BYTES  (256 * 1024)
#define LOG_TAIL_BYTES	  600
#define LOG_EXCERPT_MAX	  1024
#define LOG_EXCERPT_LINES 3
/* A user's own CRIU configuration file, copied into ours, at most. */
#define CONFIG_MAX (64 * 1024)

int criu_has_feature(const char *criu, const char *feature, int *ok, struct mig_err **err)
{
	const char *argv[] = {criu ? criu : "criu", "check", "--feature", feature, NULL};
	struct proc_opts po = {.timeout_ms = CRIU_CHECK_MS};
	struct proc_result res;
	if (proc_run(argv, &po, &res, err) < 0) {
		proc_result_free(&res); /* filled even when criu could not be run */
		return -1;
	}
	*ok = res.exited && res.exit_code == 0;
	int r = 0;
	if (res.timed_out)
		r = proc_result_err(argv, &res, err);
	proc_result_free(&res);
	return r;
}

int criu_version(const char *criu, char **version, struct mig_err **err)
{
	const char *argv[] = {criu ? criu : "criu", "--version", NULL};
	return runc_tool_version(argv, version, err);
}

/* The lines of a CRIU log that say what went wrong: its first "Error (" lines (CRIU logs
 * the cause first and its consequences after), or its tail when it has none. */
char *criu_log_excerpt(const char *path)
{
	char *all = fs_read_tail(path, LOG_SEARCH_BYTES);
	if (!all)
		return NULL;
	char *out = mig_xcalloc(1, LOG_EXCERPT_MAX);
	size_t used = 0, n = 0;
	for (char *line = all; line && n < LOG_EXCERPT_LINES && used < LOG_EXCERPT_MAX - 1;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* Without CAP_SYS_RESOURCE every CRIU run logs this; it is harmless. */
		if (strstr(line, "Error (") && !strstr(line, "Can't setup RLIMIT_NOFILE")) {
			used += (size_t)snprintf(out + used, LOG_EXCERPT_MAX - used, "%s%s",
						 n ? " | " : "", line);
			n++;
		}
		line = next;
	}
	free(all);
	if (n)
		return out;
	free(out);
	char *tail = fs_read_tail(path, LOG_TAIL_BYTES);
	char *one = tail ? text_one_line(tail, 0) : NULL;
	free(tail);
	return one;
}

size_t criu_config_lines(const struct criu_opts *o, int dump, int lazy,
			 const char *lines[CRIU_CONFIG_LINES])
{
	size_t n = 0;
	/* Ours come after the operator's file: this wins over an "address" there. */
	if (dump && lazy)
		lines[n++] = "address 127.0.0.1";
	/* CRIU's names, not runc's: "skip-in-flight" (runc: --tcp-skip-in-flight). */
	if (o && dump && o->tcp_skip_in_flight)
		lines[n++] = "skip-in-flight";
	if (o && dump && o->link_remap)
		lines[n++] = "link-remap";
	if (o && !dump && o->tcp_close)
		lines[n++] = "tcp-close";
	lines[n] = NULL;
	return n;
}

/* The operator's own CRIU_CONFIG_FILE, which ours replaces for runc's CRIU and so must
 * carry whole: the operator's input, followed as named (a link is fine), and an error when
 * it cannot be read or is larger than CONFIG_MAX, never a part of it. */
static int read_operator_config(const char *path, char **out, struct mig_err **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mig_err_set(err, errno, "CRIU_CONFIG_FILE %s", path);
	char *buf = mig_xcalloc(CONFIG_MAX + 1, 1);
	size_t n = 0;
	ssize_t r = 1;
	while (n <= CONFIG_MAX && (r = read(fd, buf + n, CONFIG_MAX + 1 - n)) > 0)
		n += (size_t)r;
	int e = errno;
	close(fd);
	if (r < 0 || n > CONFIG_MAX) {
		free(buf);
		return r < 0 ? mig_err_set(err, e, "reading CRIU_CONFIG_FILE %s", path)
			     : mig_err_set(err, 0,
					   "CRIU_CONFIG_FILE %s is larger than %d bytes: not a "
					   "CRIU configuration file",
					   path, CONFIG_MAX);
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int criu_config_write(const char *const lines[], char *path, size_t len, struct mig_err **err)
{
	path[0] = '\0';
	if (!lines[0])
		return 0;
	const char *user = getenv("CRIU_CONFIG_FILE");
	char *before = NULL;
	if (user && *user && read_operator_config(user, &before, err) < 0)
		return -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(path, len, "%s/migrate-criu-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0) {
		int e = errno;
		free(before);
		path[0] = '\0';
		return mig_err_set(err, e, "a CRIU configuration file");
	}
	FILE *f = fdopen(fd, "w");
	int bad = !f;
	if (f) {
		if (before)
			fprintf(f, "%s\n", before);
		for (size_t i = 0; lines[i]; i++)
			fprintf(f, "%s\n", lines[i]);
		bad = fclose(f) != 0;
	}
	free(before);
	if (bad) {
		unlink(path);
		path[0] = '\0';
		return mig_err_set(err, errno, "writing a CRIU configuration file");
	}
	return 0;
}

const char *criu_feature_kernel_option(const char *feature)
{
	static const struct {
		const char *feature, *option;
	} map[] = {
	    {"mem_dirty_track", "CONFIG_MEM_SOFT_DIRTY (soft-dirty page tracking)"},
	    {"uffd-noncoop", "CONFIG_USERFAULTFD with non-cooperative events (Linux >= 4.11)"},
	    {"uffd", "CONFIG_USERFAULTFD"},
	    {"lazy_pages", "CONFIG_USERFAULTFD with non-cooperative events (Linux >= 4.11)"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].feature, feature))
			return map[i].option;
	return "";
}

void criu_lazy_pages_argv(const char *criu, const char *ps_fd, const char *images_dir,
			  const char *work_dir, const char *log_file,
			  const char *argv[CRIU_MAX_ARGS])
{
	size_t n = 0;
	argv[n++] = criu ? criu : "criu";
	argv[n++] = "lazy-pages";
	argv[n++] = "--page-server";
	argv[n++] = "--ps-socket";
	argv[n++] = ps_fd;
	argv[n++] = "--images-dir";
	argv[n++] = images_dir;
	argv[n++] = "--work-dir";
	argv[n++] = work_dir;
	if (log_file) {
		argv[n++] = "--log-file";
		argv[n++] = log_file;
		argv[n++] = "-v4";
	}
	argv[n] = NULL;
}

int criu_has_cap_sys_resource(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	char line[256];
	unsigned long long eff = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> CAP_SYS_RESOURCE_BIT) & 1;
}

static int read_long(const char *path, long *v, struct mig_err **err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return mig_err_set(err, errno, "open %s", path);
	int ok = fscanf(f, "%ld", v) == 1;
	fclose(f);
	return ok ? 0 : mig_err_set(err, 0, "%s: not a number", path);
}

int criu_pipe_size_prepare(int no_sysctl, const char *proc_sys_dir, char **note,
			   struct mig_err **err)
{
	*note = NULL;
	if (criu_has_cap_sys_resource())
		return 0;
	char *path = mig_strdup_printf("%s/fs/pipe-max-size", proc_sys_dir);
	long cur = 0;
	int r = read_long(path, &cur, err);
	if (r < 0 || cur >= CRIU_PIPE_MAX_NEEDED)
		goto out;
	if (no_sysctl) {
		r = mig_err_set(
		    err, 0,
		    "fs.pipe-max-size is %ld and this process lacks CAP_SYS_RESOURCE: "
		    "CRIU's page server could not size its pipe and post-copy would fail; "
		    "run: sysctl -w fs.pipe-max-size=%d (or drop --no-sysctl)",
		    cur, CRIU_PIPE_MAX_NEEDED);
		goto out;
	}
	FILE *f = fopen(path, "we");
	int bad = !f;
	if (f) {
		bad = fprintf(f, "%d\n", CRIU_PIPE_MAX_NEEDED) < 0;
		bad = fclose(f) != 0 || bad;
	}
	if (bad) {
		r = mig_err_set(err, errno,
				"raising fs.pipe-max-size to %d (needed by CRIU's page "
				"server without CAP_SYS_RESOURCE) failed",
				CRIU_PIPE_MAX_NEEDED);
		goto out;
	}
	*note = mig_strdup_printf("raised fs.pipe-max-size from %ld to %d: CRIU's page server "
				  "needs it without CAP_SYS_RESOURCE (--no-sysctl refuses instead)",
				  cur, CRIU_PIPE_MAX_NEEDED);
out:
	free(path);
	return r;
}

long long criu_lazy_log_bytes(const char *log_path)
{
	/* With -v4 the daemon logs every copy into a task's memory, "uffd: PID-UFD: uffd_copy:
	 * 0xADDR/LEN" (LEN in bytes), and per task "UFFD transferred pages: (X/Y)".  The sum
	 * of the copies is what it placed; the per-task counts are not: a child forked during
	 * the transfer starts with its parent's count (uffd.c, handle_fork), and one still
	 * alive at the end is counted twice (docs/notes-lazy-pages.md). */
	if (!log_path)
		return -1;
	/* as fs_read_tail: never through a link, a regular file only */
	int fd = open(log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	FILE *f = NULL;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))))
		close(fd);
	if (!f)
		return -1;
	char line[512];
	long long bytes = 0;
	int found = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "uffd: "))
			continue;
		const char *c = strstr(line, "uffd_copy: 0x");
		unsigned long long addr;
		long long len;
		if (c && sscanf(c, "uffd_copy: 0x%llx/%lld", &addr, &len) == 2 && len > 0 &&
		    len <= LLONG_MAX - bytes) {
			bytes += len;
			found = 1;
		} else if (strstr(line, "UFFD transferred pages: (")) {
			found = 1; /* a daemon that copied nothing says so too */
		}
	}
	fclose(f);
	return found ? bytes : -1;
}

/* Runs `nsenter -t PID -n TOOL -w ARGS...`; returns its exit code, or -1 if it did not run. */
static int in_netns(const char *pid, const char *tool, const char *const args[],
		    struct mig_err **err)
{
	const char *argv[16] = {"nsenter", "-t", pid, "-n", tool, "-w"};
	size_t n = 6;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct proc_opts po = {.timeout_ms = CRIU_CHECK_MS, .stdout_null = 1};
	struct proc_result res;
	if (proc_run(argv, &po, &res, err) < 0) {
		proc_result_free(&res);
		return -1;
	}
	int code = res.exited ? res.exit_code : -1;
	if (code < 0)
		proc_result_err(argv, &res, err);
	proc_result_free(&res);
	return code;
}

int criu_unlock_network(int pid, int *removed, struct mig_err **err)
{
	static const char *const tools[] = {"iptables", "ip6tables"};
	static const char *const list[] = {"-n", "-L", "CRIU", NULL};
	static const char *const steps[][5] = {
	    {"-D", "INPUT", "-j", "CRIU", NULL},
	    {"-D", "OUTPUT", "-j", "CRIU", NULL},
	    {"-F", "CRIU", NULL, NULL, NULL},
	    {"-X", "CRIU", NULL, NULL, NULL},
	};
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", pid);
	*removed = 0;
	for (size_t t = 0; t < 2; t++) {
		int code = in_netns(ps, tools[t], list, err);
		if (code < 0)
			return -1;
		if (code != 0)
			continue; /* no CRIU chain: nothing locked */
		for (size_t i = 0; i < 4; i++)
			if (in_netns(ps, tools[t], steps[i], err) != 0)
				return mig_err_set(
				    err, 0,
				    "%s %s CRIU in the container's network namespace "
				    "failed",
				    tools[t], steps[i][0]);
		*removed = 1;
	}
	return 0;
}
