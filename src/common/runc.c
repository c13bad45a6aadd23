#include "runc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "criu.h"
#include "fs.h"
#include "log.h"
#include "proc.h"
#include "timeouts.h"

const char *runc_status_name(enum runc_status s)
{
	static const char *const names[] = {"absent", "created", "running",
					    "paused", "stopped", "unknown"};
	return (unsigned)s <= RUNC_UNKNOWN ? names[s] : "unknown";
}

/* Whether the logrus record holding the msg at m (records start at p) is below error level:
 * "level=warning msg=..." and the like. */
static int below_error(const char *p, const char *m)
{
	const char *lv = NULL;
	for (const char *q = p; (q = strstr(q, "level=")) && q < m; q++)
		lv = q + 6;
	return lv && strncmp(lv, "error", 5) && strncmp(lv, "fatal", 5);
}

/* runc logs errors as logrus lines: time="..." level=error msg="criu failed: ...\nlog file:
 * ...".  Keep only the msg texts, so that the error a person reads says what went wrong;
 * when there are errors, only theirs (runc's retries of a cgroup removal are warnings). */
char *runc_clean_stderr(const char *tail)
{
	size_t len = strlen(tail);
	char *out = mig_xcalloc(1, len + 1), *o = out;
	int errors = strstr(tail, "level=error") || strstr(tail, "level=fatal");
	const char *p = tail;
	while (*p) {
		const char *m = strstr(p, "msg=\"");
		if (!m) {
			if (o == out && !errors) /* not logrus at all: keep it as it is */
				return strcpy(out, tail);
			break;
		}
		int skip = errors && below_error(p, m);
		if (o != out && !skip)
			o += sprintf(o, "; ");
		for (m += 5; *m && *m != '"'; m++) {
			if (skip) {
				m += m[0] == '\\' && m[1];
				continue;
			}
			if (m[0] == '\\' && m[1]) {
				m++;
				*o++ = *m == 'n' ? ' ' : *m;
			} else {
				*o++ = *m;
			}
		}
		p = *m ? m + 1 : m;
	}
	*o = '\0';
	return out;
}

/* proc_result_err quoting runc's messages without logrus decoration. */
static int runc_result_err(const char *const argv[], struct proc_result *res, struct mig_err **err)
{
	char *clean = runc_clean_stderr(res->err_tail);
	free(res->err_tail);
	res->err_tail = clean;
	return proc_result_err(argv, res, err);
}

/* proc_run_ok for runc. */
static int runc_run_ok(const char *const argv[], const struct proc_opts *po,
		       struct proc_result *res, struct mig_err **err)
{
	if (proc_run(argv, po, res, err) < 0)
		return -1;
	if (res->exited && res->exit_code == 0 && !res->timed_out)
		return 0;
	return runc_result_err(argv, res, err);
}

static size_t runc_base_argv(const struct runc_ctx *rc, const char *argv[RUNC_MAX_ARGS])
{
	size_t n = 0;
	argv[n++] = rc->runc ? rc->runc : "runc";
	if (rc->root) {
		argv[n++] = "--root";
		argv[n++] = rc->root;
	}
	if (rc->criu) {
		argv[n++] = "--criu";
		argv[n++] = rc->criu;
	}
	return n;
}

int criu_opts_valid_mode(const char *mode)
{
	static const char *const modes[] = {"soft", "full", "strict", "ignore"};
	for (size_t i = 0; mode && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(mode, modes[i]))
			return 1;
	return 0;
}

/* Every boolean CRIU option, once: its flag (runc's and migrate-src's, without "--"), its
 * key in a request's "criu_opts" (NULL: a dump option, never sent), and whether runc has
 * a flag for it (else it goes in a CRIU configuration file: criu_config_lines). */
static const struct {
	size_t off;
	const char *flag;
	const char *key;
	int runc;
} criu_flags[] = {
    {offsetof(struct criu_opts, tcp_established), "tcp-established", "tcp_established", 1},
    {offsetof(struct criu_opts, ext_unix_sk), "ext-unix-sk", "ext_unix_sk", 1},
    {offsetof(struct criu_opts, file_locks), "file-locks", "file_locks", 1},
    {offsetof(struct criu_opts, shell_job), "shell-job", "shell_job", 1},
    {offsetof(struct criu_opts, tcp_skip_in_flight), "tcp-skip-in-flight", NULL, 0},
    {offsetof(struct criu_opts, link_remap), "link-remap", NULL, 0},
    {offsetof(struct criu_opts, tcp_close), "tcp-close", "tcp_close", 0},
};
#define N_CRIU_FLAGS (sizeof(criu_flags) / sizeof(criu_flags[0]))

static int flag_on(const struct criu_opts *o, size_t i)
{
	return *(const int *)((const char *)o + criu_flags[i].off);
}

const char *criu_opts_str(const struct criu_opts *o, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < N_CRIU_FLAGS; i++)
		if (flag_on(o, i))
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? "," : "", criu_flags[i].flag);
	if (o->empty_ns_network)
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
					 "%sempty-ns=network", used ? "," : "");
	if (o->manage_cgroups_mode)
		snprintf(buf + used, used < len ? len - used : 0, "%smanage-cgroups-mode=%s",
			 used ? "," : "", o->manage_cgroups_mode);
	return buf;
}

void criu_opts_to_json(const struct criu_opts *o, cJSON *obj)
{
	cJSON *j = cJSON_AddObjectToObject(obj, "criu_opts");
	for (size_t i = 0; i < N_CRIU_FLAGS; i++)
		if (criu_flags[i].key && flag_on(o, i))
			cJSON_AddBoolToObject(j, criu_flags[i].key, 1);
	if (o->empty_ns_network)
		cJSON_AddBoolToObject(j, "empty_ns_network", 1);
	if (o->manage_cgroups_mode)
		cJSON_AddStringToObject(j, "manage_cgroups_mode", o->manage_cgroups_mode);
}

/* One member of a request's "criu_opts" into o, against the allow-list. */
static int opt_from_json(const cJSON *it, struct criu_opts *o, struct mig_err **err)
{
	int *flag = !strcmp(it->string, "empty_ns_network") ? &o->empty_ns_network : NULL;
	for (size_t i = 0; !flag && i < N_CRIU_FLAGS; i++)
		if (criu_flags[i].key && !strcmp(it->string, criu_flags[i].key))
			flag = (int *)((char *)o + criu_flags[i].off);
	if (flag) {
		if (!cJSON_IsBool(it))
			return mig_err_set(err, 0, "criu_opts: '%.40s' is not a boolean",
					   it->string);
		*flag = cJSON_IsTrue(it);
		return 0;
	}
	if (strcmp(it->string, "manage_cgroups_mode"))
		return mig_err_set(err, 0,
				   "criu_opts: '%.40s' is not a restore option this destination "
				   "takes",
				   it->string);
	if (!cJSON_IsString(it) || !criu_opts_valid_mode(it->valuestring))
		return mig_err_set(err, 0,
				   "criu_opts: manage_cgroups_mode must be soft, full, strict or "
				   "ignore");
	o->manage_cgroups_mode = it->valuestring;
	return 0;
}

int criu_opts_from_json(const cJSON *j, struct criu_opts *o, struct mig_err **err)
{
	memset(o, 0, sizeof(*o));
	if (!j)
		return 0;
	if (!cJSON_IsObject(j))
		return mig_err_set(err, 0, "criu_opts: not an object");
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		if (opt_from_json(it, o, err) < 0)
			return -1;
	}
	return 0;
}

/* The flags of o: with runc_only, those runc has (checkpoint and restore alike); without,
 * every one as migrate-src takes it (the way back of --repeat).  --empty-ns and
 * --manage-cgroups-mode take a value. */
static size_t flags_argv(const struct criu_opts *o, int runc_only, const char *argv[], size_t n)
{
	static const char *const dashed[N_CRIU_FLAGS] = {
	    "--tcp-established",    "--ext-unix-sk", "--file-locks", "--shell-job",
	    "--tcp-skip-in-flight", "--link-remap",  "--tcp-close"};
	if (!o)
		return n;
	for (size_t i = 0; i < N_CRIU_FLAGS; i++)
		if (flag_on(o, i) && (criu_flags[i].runc || !runc_only))
			argv[n++] = dashed[i];
	if (o->empty_ns_network) {
		argv[n++] = "--empty-ns";
		argv[n++] = "network";
	}
	if (o->manage_cgroups_mode) {
		argv[n++] = "--manage-cgroups-mode";
		argv[n++] = o->manage_cgroups_mode;
	}
	return n;
}

size_t criu_opts_argv(const struct criu_opts *o, const char *argv[], size_t n)
{
	return flags_argv(o, 0, argv, n);
}

static size_t opts_argv(const struct criu_opts *o, const char *argv[RUNC_MAX_ARGS], size_t n)
{
	return flags_argv(o, 1, argv, n);
}

void runc_checkpoint_argv(const struct runc_ctx *rc, const char *name, const struct runc_ckpt *c,
			  const char *argv[RUNC_MAX_ARGS], char fd_buf[RUNC_FD_BUF])
{
	size_t n = runc_base_argv(rc, argv);
	argv[n++] = "checkpoint";
	if (c->pre_dump)
		argv[n++] = "--pre-dump";
	if (c->leave_running)
		argv[n++] = "--leave-running";
	argv[n++] = "--image-path";
	argv[n++] = c->image_path;
	if (c->work_path) {
		argv[n++] = "--work-path";
		argv[n++] = c->work_path;
	}
	if (c->parent_path) {
		argv[n++] = "--parent-path";
		argv[n++] = c->parent_path;
	}
	if (c->lazy) {
		argv[n++] = "--lazy-pages";
		argv[n++] = "--page-server";
		argv[n++] = c->page_server;
		snprintf(fd_buf, RUNC_FD_BUF, "%d", c->status_fd);
		argv[n++] = "--status-fd";
		argv[n++] = fd_buf;
	}
	n = opts_argv(c->opts, argv, n);
	argv[n++] = name;
	argv[n] = NULL;
}

void runc_restore_argv(const struct runc_ctx *rc, const char *name, const struct runc_restore *r,
		       const char *argv[RUNC_MAX_ARGS])
{
	size_t n = runc_base_argv(rc, argv);
	if (r->log_path) {
		argv[n++] = "--log";
		argv[n++] = r->log_path;
	}
	argv[n++] = "restore";
	argv[n++] = "-d";
	if (r->lazy)
		argv[n++] = "--lazy-pages";
	argv[n++] = "--image-path";
	argv[n++] = r->image_path;
	argv[n++] = "--work-path";
	argv[n++] = r->work_path;
	argv[n++] = "--bundle";
	argv[n++] = r->bundle;
	if (r->console_socket) {
		argv[n++] = "--console-socket";
		argv[n++] = r->console_socket;
	}
	n = opts_argv(r->opts, argv, n);
	argv[n++] = name;
	argv[n] = NULL;
}

char *runc_parse_version(const char *out)
{
	static const char *const keys[] = {"runc version ", "Version: "};
	for (size_t i = 0; i < 2; i++) {
		const char *p = strstr(out, keys[i]);
		if (!p)
			continue;
		p += strlen(keys[i]);
		size_t n = strcspn(p, " \t\r\n");
		if (n)
			return strndup(p, n);
	}
	return NULL;
}

int runc_tool_version(const char *const argv[], char **version, struct mig_err **err)
{
	struct proc_opts po = {.timeout_ms = RUNC_QUERY_MS};
	struct proc_result res;
	*version = NULL;
	if (proc_run_ok(argv, &po, &res, err) < 0) {
		proc_result_free(&res);
		return -1;
	}
	*version = runc_parse_version(res.out);
	proc_result_free(&res);
	if (!*version)
		return mig_err_set(err, 0, "%s --version: unrecognised output", argv[0]);
	return 0;
}

int runc_version(const struct runc_ctx *rc, char **version, struct mig_err **err)
{
	const char *argv[] = {rc->runc ? rc->runc : "runc", "--version", NULL};
	return runc_tool_version(argv, version, err);
}

/* runc state's JSON: status, "pid" into *pid and "bundle" into *bundle (malloc'ed), each
 * when non-NULL. */
static enum runc_status parse_state(const char *json, int *pid, char **bundle)
{
	static const struct {
		const char *name;
		enum runc_status st;
	} map[] = {{"created", RUNC_CREATED},
		   {"running", RUNC_RUNNING},
		   {"paused", RUNC_PAUSED},
		   {"stopped", RUNC_STOPPED}};
	cJSON *o = cJSON_Parse(json);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "status");
	enum runc_status st = RUNC_UNKNOWN;
	for (size_t i = 0; cJSON_IsString(s) && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(s->valuestring, map[i].name))
			st = map[i].st;
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pid");
	if (pid)
		*pid = cJSON_IsNumber(p) && p->valuedouble >= 1 && p->valuedouble <= INT_MAX
			   ? (int)p->valuedouble
			   : 0;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bundle");
	if (bundle)
		*bundle =
		    cJSON_IsString(b) && b->valuestring[0] ? mig_xstrdup(b->valuestring) : NULL;
	cJSON_Delete(o);
	return st;
}

enum runc_status runc_parse_state(const char *json, int *pid)
{
	return parse_state(json, pid, NULL);
}

int runc_state(const struct runc_ctx *rc, const char *name, enum runc_status *st,
	       struct mig_err **err)
{
	return runc_state_pid(rc, name, st, NULL, err);
}

static int state_query(const struct runc_ctx *rc, const char *name, enum runc_status *st, int *pid,
		       char **bundle, struct mig_err **err);

int runc_state_pid(const struct runc_ctx *rc, const char *name, enum runc_status *st, int *pid,
		   struct mig_err **err)
{
	return state_query(rc, name, st, pid, NULL, err);
}

static int state_query(const struct runc_ctx *rc, const char *name, enum runc_status *st, int *pid,
		       char **bundle, struct mig_err **err)
{
	const char *argv[RUNC_MAX_ARGS];
	size_t n = runc_base_argv(rc, argv);
	argv[n++] = "state";
	argv[n++] = name;
	argv[n] = NULL;
	struct proc_opts po = {.timeout_ms = RUNC_QUERY_MS};
	struct proc_result res;
	if (proc_run(argv, &po, &res, err) < 0)
		return -1;
	int rc_ = 0;
	if (pid)
		*pid = 0;
	if (bundle)
		*bundle = NULL;
	if (res.exited && res.exit_code == 0)
		*st = parse_state(res.out, pid, bundle);
	/* runc says so only in words ("container does not exist"), with exit code 1 as for
	 * every other failure: its message is the one signal there is. */
	else if (res.exited && strstr(res.err_tail, "does not exist"))
		*st = RUNC_ABSENT;
	else
		rc_ = runc_result_err(argv, &res, err);
	proc_result_free(&res);
	return rc_;
}

/* Adds the CRIU log lines that say what went wrong to err. */
static void add_criu_log(struct mig_err **err, const char *dir, const char *log)
{
	if (!dir || !err || !*err)
		return;
	char *path = mig_strdup_printf("%s/%s", dir, log);
	char *ex = criu_log_excerpt(path);
	if (ex)
		mig_err_append(err, "CRIU log %s says: %s", path, ex);
	free(ex);
	free(path);
}

/* CRIU_CONFIG_FILE=rc->criu_config for runc's CRIU (NULL-terminated env_add), or NULL. */
static const char *const *criu_env(const struct runc_ctx *rc, char *buf, size_t len,
				   const char *env[2])
{
	if (!rc->criu_config)
		return NULL;
	snprintf(buf, len, "CRIU_CONFIG_FILE=%s", rc->criu_config);
	env[0] = buf;
	env[1] = NULL;
	return env;
}

int runc_checkpoint(const struct runc_ctx *rc, const char *name, const struct runc_ckpt *c,
		    int *timed_out, struct mig_err **err)
{
	const char *argv[RUNC_MAX_ARGS], *env[2];
	char fd_buf[RUNC_FD_BUF], ebuf[PATH_MAX + 32];
	runc_checkpoint_argv(rc, name, c, argv, fd_buf);
	struct proc_opts po = {.timeout_ms = rc->timeout_ms,
			       .stdout_null = 1,
			       .env_add = criu_env(rc, ebuf, sizeof(ebuf), env)};
	struct proc_result res;
	int r = runc_run_ok(argv, &po, &res, err);
	*timed_out = res.timed_out;
	if (r < 0)
		add_criu_log(err, c->work_path ? c->work_path : c->image_path,
			     c->pre_dump ? "pre-dump.log" : "dump.log");
	proc_result_free(&res);
	return r;
}

int runc_checkpoint_spawn(const struct runc_ctx *rc, const char *name, const struct runc_ckpt *c,
			  struct proc *p, struct mig_err **err)
{
	const char *argv[RUNC_MAX_ARGS], *env[2];
	char fd_buf[RUNC_FD_BUF], ebuf[PATH_MAX + 32];
	runc_checkpoint_argv(rc, name, c, argv, fd_buf);
	int keep[] = {c->status_fd, -1};
	struct proc_opts po = {.timeout_ms = rc->timeout_ms,
			       .stdout_null = 1,
			       .keep_fds = keep,
			       .env_add = criu_env(rc, ebuf, sizeof(ebuf), env)};
	return proc_spawn(p, argv, &po, err);
}

int runc_restore(const struct runc_ctx *rc, const char *name, const struct runc_restore *r,
		 struct mig_err **err)
{
	const char *argv[RUNC_MAX_ARGS], *env[2];
	char ebuf[PATH_MAX + 32], log[32];
	/* A restored container whose stdio were pipes inherits runc's own stdio (runc maps the
	 * pipes onto them): all three are /dev/null, or the container would write into a
	 * capture of ours for the rest of its life.  runc's messages come through --log. */
	int logfd = proc_capture_open("runc-restore-log", err);
	if (logfd < 0)
		return -1;
	snprintf(log, sizeof(log), "/proc/self/fd/%d", logfd);
	struct runc_restore with_log = *r;
	with_log.log_path = log;
	runc_restore_argv(rc, name, &with_log, argv);
	int keep[] = {logfd, -1};
	struct proc_opts po = {.timeout_ms = rc->timeout_ms,
			       .stdout_null = 1,
			       .stderr_null = 1,
			       .keep_fds = keep,
			       .hangup_fd = rc->hangup_fd,
			       .env_add = criu_env(rc, ebuf, sizeof(ebuf), env)};
	struct proc_result res;
	int rv = proc_run(argv, &po, &res, err);
	if (rv == 0 && !(res.exited && res.exit_code == 0 && !res.timed_out)) {
		free(res.err_tail);
		res.err_tail = proc_capture_tail(logfd, PROC_STDERR_TAIL);
		rv = runc_result_err(argv, &res, err);
		add_criu_log(err, r->work_path, "restore.log");
	}
	close(logfd);
	proc_result_free(&res);
	return rv;
}

static int runc_simple(const struct runc_ctx *rc, const char *const extra[], struct mig_err **err)
{
	const char *argv[RUNC_MAX_ARGS];
	size_t n = runc_base_argv(rc, argv);
	for (size_t i = 0; extra[i] && n < RUNC_MAX_ARGS - 1; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	struct proc_opts po = {.timeout_ms = RUNC_QUERY_MS, .stdout_null = 1};
	struct proc_result res;
	int r = runc_run_ok(argv, &po, &res, err);
	proc_result_free(&res);
	return r;
}

int runc_ps(const struct runc_ctx *rc, const char *name, int **pids, size_t *n,
	    struct mig_err **err)
{
	const char *argv[RUNC_MAX_ARGS];
	size_t a = runc_base_argv(rc, argv);
	argv[a++] = "ps";
	argv[a++] = "--format";
	argv[a++] = "json";
	argv[a++] = name;
	argv[a] = NULL;
	struct proc_opts po = {.timeout_ms = RUNC_QUERY_MS};
	struct proc_result res;
	*pids = NULL;
	*n = 0;
	if (runc_run_ok(argv, &po, &res, err) < 0) {
		proc_result_free(&res);
		return -1;
	}
	cJSON *j = cJSON_Parse(res.out);
	proc_result_free(&res);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return mig_err_set(err, 0, "runc ps %s: not a JSON array", name);
	}
	*pids = mig_xcalloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(int));
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		if (cJSON_IsNumber(it) && it->valuedouble >= 1 && it->valuedouble <= INT_MAX)
			(*pids)[(*n)++] = (int)it->valuedouble;
	}
	cJSON_Delete(j);
	return 0;
}

int runc_pause(const struct runc_ctx *rc, const char *name, struct mig_err **err)
{
	const char *extra[] = {"pause", name, NULL};
	return runc_simple(rc, extra, err);
}

int runc_resume(const struct runc_ctx *rc, const char *name, struct mig_err **err)
{
	const char *extra[] = {"resume", name, NULL};
	return runc_simple(rc, extra, err);
}

/* How often runc_kill asks whether the container stopped. */
#define KILL_POLL_US 100000

/* Waits (briefly) for a killed container to stop. */
static int wait_stopped(const struct runc_ctx *rc, const char *name, struct mig_err **err)
{
	enum runc_status st = RUNC_RUNNING;
	long long deadline = proc_deadline_in(RUNC_KILL_WAIT_MS);
	while (st == RUNC_RUNNING && proc_ms_left(deadline, -1) > 0) {
		if (runc_state(rc, name, &st, err) < 0)
			return -1;
		if (st == RUNC_RUNNING)
			usleep(KILL_POLL_US);
	}
	return 0;
}

/* runc refuses to kill a container that is stopped or gone ("container not running"):
 * those need no killing, so they are asked about first. */
static int kill_if_alive(const struct runc_ctx *rc, const char *name, enum runc_status st,
			 struct mig_err **err)
{
	if (st != RUNC_RUNNING && st != RUNC_PAUSED && st != RUNC_CREATED)
		return 0;
	const char *extra[] = {"kill", name, "KILL", NULL};
	if (runc_simple(rc, extra, err) < 0)
		return -1;
	return wait_stopped(rc, name, err);
}

int runc_kill(const struct runc_ctx *rc, const char *name, struct mig_err **err)
{
	enum runc_status st;
	if (runc_state(rc, name, &st, err) < 0)
		return -1;
	return kill_if_alive(rc, name, st, err);
}

/* Whether path (runc's record of a container's bundle) is the directory open at fd: by
 * identity, as the spelling may differ (relative base dirs, symlinked parents). */
static int same_dir(const char *path, int fd)
{
	struct stat a, b;
	return path && fd >= 0 && stat(path, &a) == 0 && fstat(fd, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int unmount_state_leftovers(const struct runc_ctx *rc, const char *name,
				   struct mig_err **err)
{
	const char *root = rc->root ? rc->root : RUNC_DEFAULT_ROOT;
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return errno == ENOENT ? 0
				       : mig_err_set(err, errno, "open runc's state root %s", root);
	int r = fs_unmount_leftovers_at(rfd, name, err);
	close(rfd);
	return r;
}

int runc_remove_own(const struct runc_ctx *rc, const char *name, int bundle_fd,
		    const char *bundle_dir, struct mig_err **err)
{
	enum runc_status st;
	char *bundle = NULL;
	if (state_query(rc, name, &st, NULL, &bundle, err) < 0)
		return -1;
	if (st != RUNC_ABSENT && !same_dir(bundle, bundle_fd)) {
		mig_err_set(err, 0,
			    "the container named %s here runs from %s, not from %s: it is not "
			    "ours and was left alone",
			    name, bundle ? bundle : "an unknown bundle", bundle_dir);
		free(bundle);
		return -1;
	}
	free(bundle);
	/* Killed first: a copy left running must not survive a failed unmount. */
	if (kill_if_alive(rc, name, st, err) < 0 || unmount_state_leftovers(rc, name, err) < 0)
		return -1;
	if (st == RUNC_ABSENT)
		return 0;
	log_debug("removing leftover container %s (%s)", name, runc_status_name(st));
	const char *extra[] = {"delete", "-f", name, NULL};
	return runc_simple(rc, extra, err);
}
