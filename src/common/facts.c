/* Host facts for migrate-src --check, gathered alike on both hosts (see facts.h). */
#include "facts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bundle.h"
#include "cgroup.h"
#include "criu.h"
#include "fs.h"
#include "mig.h"
#include "proc.h"
#include "proto.h"
#include "text.h"
#include "timeouts.h"

/* How often the hang test looks at the stop flag while its dump runs. */
#define HANG_POLL_MS 100
/* The TCP test process has its sockets within this. */
#define TCP_CHILD_READY_MS 5000
#define DETAIL_MAX	   400

const char *const facts_features[FACTS_N_FEATURES] = {"mem_dirty_track", "uffd-noncoop"};

static void criu_check(const struct facts_opts *o, struct host_facts *f)
{
	const char *argv[] = {o->criu ? o->criu : "criu", "check", NULL};
	struct proc_opts po = {.timeout_ms = CRIU_CHECK_MS};
	struct proc_result res;
	struct mig_err *e = NULL;
	f->criu_check = FACT_UNKNOWN;
	if (proc_run(argv, &po, &res, &e) < 0) {
		f->criu_check_detail = mig_err_take(&e);
	} else if (res.exited && res.exit_code == 0) {
		f->criu_check = FACT_YES;
		f->criu_check_detail =
		    text_one_line(res.out[0] ? res.out : res.err_tail, DETAIL_MAX);
	} else if (res.timed_out) {
		proc_result_err(argv, &res, &e);
		f->criu_check_detail = mig_err_take(&e);
	} else {
		f->criu_check = FACT_NO;
		f->criu_check_detail =
		    text_one_line(res.err_tail[0] ? res.err_tail : res.out, DETAIL_MAX);
	}
	proc_result_free(&res);
}

void facts_gather_tools(const struct facts_opts *o, struct host_facts *f)
{
	struct mig_err *e = NULL;
	if (runc_version(o->runc, &f->runc_version, &e) < 0)
		f->runc_error = mig_err_take(&e);
	if (criu_version(o->criu, &f->criu_version, &e) < 0)
		f->criu_error = mig_err_take(&e);
	criu_check(o, f);
	for (size_t i = 0; i < FACTS_N_FEATURES; i++) {
		int ok = 0;
		f->features[i] = FACT_UNKNOWN;
		if (criu_has_feature(o->criu, facts_features[i], &ok, &e) < 0)
			mig_err_free(&e);
		else
			f->features[i] = ok ? FACT_YES : FACT_NO;
	}
}

static void bundle_facts(const struct facts_opts *o, struct host_facts *f)
{
	struct bundle_info b;
	struct mig_err *e = NULL;
	f->bundle_dir = mig_strdup_printf("%s/%s", o->base_dir, o->name);
	if (bundle_load(o->base_dir, o->name, &b, &e) < 0) {
		f->bundle_detail = mig_err_take(&e);
		return;
	}
	f->root_path = mig_xstrdup(b.root_path);
	/* The restore's cgroup-root workaround (restore.h), as the restore would compute it. */
	if (f->cgroup2 == FACT_YES && cgroup_runc_needs_root(f->runc_version) &&
	    cgroup_restore_root(b.cgroups_path, o->name, &f->cgroup_root, &e) < 0)
		f->cgroup_root_error = mig_err_take(&e);
	int fd = bundle_rootfs_fd(&b, &e);
	int en = e ? e->errno_val : 0;
	if (fd < 0 && en)
		f->bundle_detail = mig_strdup_printf("rootfs %s: %s", b.rootfs, strerror(en));
	else if (fd < 0 || bundle_check_rootfs(&b, 0, &e) < 0)
		f->bundle_detail = mig_err_take(&e);
	else
		f->bundle_ok = 1;
	mig_err_free(&e);
	if (fd >= 0)
		close(fd);
	bundle_free(&b);
}

static void container_facts(const struct facts_opts *o, struct host_facts *f)
{
	enum runc_status st;
	struct mig_err *e = NULL;
	f->container_memory = -1;
	f->container_tcp = -1;
	if (runc_state_pid(o->runc, o->name, &st, &f->container_pid, &e) < 0) {
		f->container_error = mig_err_take(&e);
		return;
	}
	f->container_status = mig_xstrdup(runc_status_name(st));
	if ((st == RUNC_RUNNING || st == RUNC_PAUSED) && f->container_pid > 0) {
		f->container_memory = facts_container_memory(f->container_pid);
		f->container_tcp = facts_tcp_sockets(f->container_pid);
	}
}

/* "key value" lines of a memory.stat file: the value of key, or -1. */
static long long stat_field(const char *path, const char *key)
{
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	char line[256], k[64];
	long long v, found = -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "%63s %lld", k, &v) == 2 && !strcmp(k, key)) {
			found = v;
			break;
		}
	fclose(fp);
	return found;
}

/* From the cgroup of pid: v1's memory controller, or the v2 unified hierarchy. */
static long long cgroup_memory(int pid)
{
	char path[64], line[PATH_MAX + 64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	long long total = -1;
	while (total < 0 && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || strstr(c2 + 1, ".."))
			continue;
		*c2 = '\0';
		const char *ctrl = c1 + 1, *cg = c2 + 1;
		char stat_path[PATH_MAX + 96];
		if (!strcmp(ctrl, "memory")) {
			snprintf(stat_path, sizeof(stat_path),
				 "/sys/fs/cgroup/memory%s/memory.stat", cg);
			long long rss = stat_field(stat_path, "total_rss");
			long long shm = stat_field(stat_path, "total_shmem");
			if (rss >= 0)
				total = rss + (shm > 0 ? shm : 0);
		} else if (!*ctrl && strcmp(cg, "/")) {
			static const char *const roots[] = {"/sys/fs/cgroup",
							    "/sys/fs/cgroup/unified"};
			for (size_t i = 0; i < 2 && total < 0; i++) {
				snprintf(stat_path, sizeof(stat_path), "%s%s/memory.stat", roots[i],
					 cg);
				long long anon = stat_field(stat_path, "anon");
				long long shm = stat_field(stat_path, "shmem");
				if (anon >= 0)
					total = anon + (shm > 0 ? shm : 0);
			}
		}
	}
	fclose(fp);
	return total;
}

long long facts_container_memory(int pid)
{
	long long total = cgroup_memory(pid);
	if (total >= 0)
		return total;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	long long kb, sum = 0;
	int found = 0;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "RssAnon: %lld", &kb) == 1 ||
		    sscanf(line, "RssShmem: %lld", &kb) == 1) {
			sum += kb * 1024;
			found = 1;
		}
	fclose(fp);
	return found ? sum : -1;
}

static void space_and_pipe_facts(const struct facts_opts *o, struct host_facts *f)
{
	struct statvfs sv;
	f->base_dir = mig_xstrdup(o->base_dir);
	f->free_bytes = -1;
	if (statvfs(o->base_dir, &sv) == 0)
		f->free_bytes = (long long)sv.f_bavail * (long long)sv.f_frsize;
	f->cap_sys_resource = criu_has_cap_sys_resource();
	char *path = mig_strdup_printf("%s/fs/pipe-max-size",
				       o->proc_sys_dir ? o->proc_sys_dir : "/proc/sys");
	FILE *fp = fopen(path, "re");
	f->pipe_max_size = -1;
	if (fp) {
		if (fscanf(fp, "%ld", &f->pipe_max_size) != 1)
			f->pipe_max_size = -1;
		fclose(fp);
	}
	f->pipe_max_writable = access(path, W_OK) == 0;
	free(path);
	const char *fault = getenv("CRIU_FAULT");
	f->criu_fault_set = fault && !strcmp(fault, "130");
}

/* ---- the hang test ---- */

static const char *tmp_dir(const struct facts_opts *o)
{
	const char *t = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
	return t && *t == '/' ? t : "/tmp";
}

static int stopped(const struct facts_opts *o)
{
	return o->stop && *o->stop;
}

/* criu dump of the throwaway process pid into dir, with or without CRIU_FAULT=130 in its
 * environment.  --leave-running: CRIU resumes the process afterwards (we kill it). */
static enum hang_result dump_once(const struct facts_opts *o, int pid, const char *dir,
				  int with_fault, int tcp, char **detail)
{
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", pid);
	const char *argv[] = {o->criu ? o->criu : "criu",
			      "dump",
			      "-t",
			      ps,
			      "-D",
			      dir,
			      "--shell-job",
			      "--leave-running",
			      "-o",
			      "dump.log",
			      "-v4",
			      tcp ? "--tcp-established" : NULL,
			      NULL};
	const char *no_fault[] = {"CRIU_FAULT", NULL}; /* a bare name removes it */
	const char *fault[] = {"CRIU_FAULT=130", NULL};
	struct proc_opts po = {.timeout_ms = o->hang_test_ms,
			       .kill_grace_ms = HANG_KILL_GRACE_MS,
			       .env_add = with_fault ? fault : no_fault,
			       .stdout_null = 1};
	struct proc p;
	struct proc_result res;
	struct mig_err *e = NULL;
	if (proc_spawn(&p, argv, &po, &e) < 0) {
		*detail = mig_err_take(&e);
		return HANG_FAILED;
	}
	int w;
	while ((w = proc_wait_for(&p, HANG_POLL_MS, &res, &e)) == 1) {
		if (stopped(o)) {
			proc_kill(&p, &res);
			proc_result_free(&res);
			*detail = mig_xstrdup("interrupted");
			return HANG_SKIPPED;
		}
	}
	if (w < 0) {
		*detail = mig_err_take(&e);
		proc_result_free(&res);
		return HANG_FAILED;
	}
	enum hang_result r = HANG_OK;
	char *log = mig_strdup_printf("%s/dump.log", dir);
	if (res.timed_out) {
		r = HANG_HANGS;
		char *raw = fs_read_tail(log, 200);
		char *tail = raw ? text_one_line(raw, 0) : NULL;
		free(raw);
		*detail = mig_strdup_printf("criu dump did not finish in %d ms%s%s%s",
					    o->hang_test_ms, tail ? " (its log ends: " : "",
					    tail ? tail : "", tail ? ")" : "");
		free(tail);
	} else if (!res.exited || res.exit_code != 0) {
		r = HANG_FAILED;
		char *ex = criu_log_excerpt(log);
		proc_result_err(argv, &res, &e);
		*detail = ex ? mig_strdup_printf("%s (dump.log: %s)", mig_err_msg(e), ex)
			     : mig_xstrdup(mig_err_msg(e));
		mig_err_free(&e);
		free(ex);
	}
	free(log);
	proc_result_free(&res);
	return r;
}

/* Waits for the TCP test process's byte on fd: it has its sockets. */
static int await_ready(int fd, struct proc *child, struct mig_err **err)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	long long deadline = proc_deadline_in(TCP_CHILD_READY_MS);
	char c;
	for (;;) {
		int left = proc_ms_left(deadline, -1);
		int r = left == 0 ? 0 : poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0 && read(fd, &c, 1) == 1)
			return 0;
		break;
	}
	struct proc_result res;
	proc_kill(child, &res);
	const char *argv[] = {"the TCP test process", NULL};
	proc_result_err(argv, &res, err);
	proc_result_free(&res);
	return mig_err_wrap(err, "it did not get its sockets");
}

/* The throwaway process: `sleep`, or (tcp) this very program in its TCP test mode
 * (facts_tcp_child): a network namespace of its own, lo up, a listening socket and a
 * connection to it, both ends.  In a session of its own (docs/notes-platform.md, "A
 * session leader outside the pid namespace"). */
static int spawn_throwaway(const struct facts_opts *o, int tcp, struct proc *child,
			   struct mig_err **err)
{
	int life_ms = o->hang_test_ms + HANG_SLEEP_EXTRA_S * 1000;
	struct proc_opts so = {.timeout_ms = life_ms, .stdout_null = 1, .new_session = 1};
	if (!tcp) {
		char secs[16];
		snprintf(secs, sizeof(secs), "%d", life_ms / 1000);
		const char *sleep_argv[] = {"sleep", secs, NULL};
		return proc_spawn(child, sleep_argv, &so, err);
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return mig_err_set(err, errno, "pipe");
	char env[64], life[64];
	snprintf(env, sizeof(env), "%s=%d", FACTS_TCP_CHILD_ENV, pfd[1]);
	snprintf(life, sizeof(life), "%s=%d", FACTS_TCP_LIFE_ENV, life_ms / 1000 + 1);
	const char *env_add[] = {env, life, NULL};
	const char *argv[] = {"/proc/self/exe", NULL};
	int keep[] = {pfd[1], -1};
	so.env_add = env_add;
	so.keep_fds = keep;
	int r = proc_spawn(child, argv, &so, err);
	close(pfd[1]);
	if (r == 0)
		r = await_ready(pfd[0], child, err);
	close(pfd[0]);
	return r;
}

int facts_tcp_child(void)
{
	const char *v = getenv(FACTS_TCP_CHILD_ENV), *lv = getenv(FACTS_TCP_LIFE_ENV);
	int fd = -1, life_s = 0;
	/* A parent killed with SIGKILL cannot end it: it ends itself, holding a network
	 * namespace and two sockets no longer than the test could take. */
	if (!v || mig_parse_int(v, 3, 1 << 20, &fd) < 0 || !lv ||
	    mig_parse_int(lv, 1, 86400, &life_s) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
	    getppid() == 1 || unshare(CLONE_NEWNET) < 0)
		return 1;
	alarm((unsigned)life_s);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return 1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return 1;
	close(s);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) < 0 ||
	    connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 || accept(l, NULL, NULL) < 0)
		return 1;
	if (write(fd, "r", 1) != 1)
		return 1;
	close(fd);
	for (;;) /* until killed (by its PID), its parent's death or SIGALRM */
		pause();
}

/* One test dump of a fresh throwaway process in a fresh temp dir; both are gone after. */
static enum hang_result hang_round(const struct facts_opts *o, int with_fault, int tcp,
				   char **detail, long long *ms)
{
	char *dir = mig_strdup_printf("%s/migrate-doctor.XXXXXX", tmp_dir(o));
	if (!mkdtemp(dir)) {
		*detail = mig_strdup_printf("cannot make a temp dir %s: %s", dir, strerror(errno));
		free(dir);
		return HANG_FAILED;
	}
	struct proc child;
	struct mig_err *e = NULL;
	enum hang_result r;
	long long t0 = proc_now_ms();
	if (spawn_throwaway(o, tcp, &child, &e) < 0) {
		*detail = mig_err_take(&e);
		r = HANG_FAILED;
	} else {
		r = dump_once(o, child.pid, dir, with_fault, tcp, detail);
		struct proc_result res;
		proc_kill(&child, &res); /* by its PID (its own process group) */
		proc_result_free(&res);
	}
	*ms = proc_now_ms() - t0;
	if (fs_clear_path(dir, &e) < 0)
		mig_err_free(&e);
	free(dir);
	return r;
}

void facts_hang_test(const struct facts_opts *o, struct host_facts *f)
{
	f->hang = f->hang_with_fault = HANG_SKIPPED;
	f->hang_ms = -1;
	if (o->hang_test_ms <= 0)
		return;
	char *detail = NULL;
	f->hang = hang_round(o, 0, 0, &f->hang_detail, &f->hang_ms);
	if (f->hang != HANG_HANGS || stopped(o))
		return;
	/* Hung: does CRIU's "no breakpoints" switch help? */
	long long ms;
	f->hang_with_fault = hang_round(o, 1, 0, &detail, &ms);
	if (detail) {
		char *both =
		    mig_strdup_printf("%s; with CRIU_FAULT=130: %s", f->hang_detail, detail);
		free(f->hang_detail);
		f->hang_detail = both;
		free(detail);
	}
}

void facts_tcp_test(const struct facts_opts *o, struct host_facts *f)
{
	f->tcp = HANG_SKIPPED;
	f->tcp_ms = -1;
	if (o->hang_test_ms <= 0 || stopped(o))
		return;
	f->tcp = hang_round(o, 1, 1, &f->tcp_detail, &f->tcp_ms);
}

/* Lines of /proc/PID/net/tcp and tcp6 but their headers. */
long long facts_tcp_sockets(int pid)
{
	static const char *const files[] = {"tcp", "tcp6"};
	long long n = 0;
	int any = 0;
	for (size_t i = 0; i < 2; i++) {
		char path[64], line[512];
		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[i]);
		FILE *fp = fopen(path, "re");
		if (!fp)
			continue;
		any = 1;
		for (int first = 1; fgets(line, sizeof(line), fp); first = 0)
			n += !first;
		fclose(fp);
	}
	return any ? n : -1;
}

void facts_gather(const struct facts_opts *o, struct host_facts *f)
{
	memset(f, 0, sizeof(*f));
	facts_gather_tools(o, f);
	int v2 = cgroup_v2();
	f->cgroup2 = v2 < 0 ? FACT_UNKNOWN : v2 ? FACT_YES : FACT_NO;
	bundle_facts(o, f);
	container_facts(o, f);
	space_and_pipe_facts(o, f);
	facts_hang_test(o, f);
	facts_tcp_test(o, f);
}

/* ---- JSON ---- */

static const char *const hang_names[] = {"skipped", "ok", "hangs", "failed"};

static void put_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void put_num(cJSON *o, const char *key, long long v)
{
	if (v >= 0)
		cJSON_AddNumberToObject(o, key, (double)v);
	else
		cJSON_AddNullToObject(o, key);
}

static void put_tri(cJSON *o, const char *key, int v)
{
	if (v == FACT_UNKNOWN)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddBoolToObject(o, key, v == FACT_YES);
}

static const char *hang_name(int h)
{
	return (unsigned)h < 4 ? hang_names[h] : "skipped";
}

/* Every field of struct host_facts as it travels in JSON (the features apart): one list for
 * both directions and for freeing, so none can be forgotten in one of them. */
enum fact_kind {
	FK_STR,	 /* char *, null when NULL */
	FK_LL,	 /* long long, null when < 0 */
	FK_TRI,	 /* enum facts_tri, null when unknown */
	FK_FLAG, /* int 0/1, a boolean */
	FK_HANG, /* enum hang_result, by name */
	FK_PID,	 /* int, a number (0 when none) */
	FK_LONG, /* long, null when < 0 */
};

#define FACT(key, kind, field)                                \
	{                                                     \
		key, kind, offsetof(struct host_facts, field) \
	}
static const struct {
	const char *key;
	enum fact_kind kind;
	size_t off;
} fact_fields[] = {
    FACT("runc_version", FK_STR, runc_version),
    FACT("runc_error", FK_STR, runc_error),
    FACT("criu_version", FK_STR, criu_version),
    FACT("criu_error", FK_STR, criu_error),
    FACT("criu_check", FK_TRI, criu_check),
    FACT("criu_check_detail", FK_STR, criu_check_detail),
    FACT("base_dir", FK_STR, base_dir),
    FACT("free_bytes", FK_LL, free_bytes),
    FACT("bundle_ok", FK_FLAG, bundle_ok),
    FACT("bundle_dir", FK_STR, bundle_dir),
    FACT("bundle_detail", FK_STR, bundle_detail),
    FACT("root_path", FK_STR, root_path),
    FACT("cgroup2", FK_TRI, cgroup2),
    FACT("cgroup_root", FK_STR, cgroup_root),
    FACT("cgroup_root_error", FK_STR, cgroup_root_error),
    FACT("container_status", FK_STR, container_status),
    FACT("container_error", FK_STR, container_error),
    FACT("container_pid", FK_PID, container_pid),
    FACT("container_memory", FK_LL, container_memory),
    FACT("cap_sys_resource", FK_FLAG, cap_sys_resource),
    FACT("pipe_max_size", FK_LONG, pipe_max_size),
    FACT("pipe_max_writable", FK_FLAG, pipe_max_writable),
    FACT("criu_fault_set", FK_FLAG, criu_fault_set),
    FACT("hang_test", FK_HANG, hang),
    FACT("hang_test_with_fault", FK_HANG, hang_with_fault),
    FACT("hang_detail", FK_STR, hang_detail),
    FACT("hang_ms", FK_LL, hang_ms),
    FACT("tcp_test", FK_HANG, tcp),
    FACT("tcp_detail", FK_STR, tcp_detail),
    FACT("tcp_ms", FK_LL, tcp_ms),
    FACT("container_tcp", FK_LL, container_tcp),
};
#define N_FACT_FIELDS (sizeof(fact_fields) / sizeof(fact_fields[0]))

static void *fact_at(const struct host_facts *f, size_t i)
{
	return (char *)f + fact_fields[i].off;
}

void facts_free(struct host_facts *f)
{
	for (size_t i = 0; i < N_FACT_FIELDS; i++)
		if (fact_fields[i].kind == FK_STR) {
			free(*(char **)fact_at(f, i));
			*(char **)fact_at(f, i) = NULL;
		}
}

static void fact_to_json(cJSON *j, const struct host_facts *f, size_t i)
{
	const char *key = fact_fields[i].key;
	const void *v = fact_at(f, i);
	switch (fact_fields[i].kind) {
	case FK_STR:
		put_str(j, key, *(char *const *)v);
		break;
	case FK_LL:
		put_num(j, key, *(const long long *)v);
		break;
	case FK_LONG:
		put_num(j, key, *(const long *)v);
		break;
	case FK_TRI:
		put_tri(j, key, *(const int *)v);
		break;
	case FK_FLAG:
		cJSON_AddBoolToObject(j, key, *(const int *)v);
		break;
	case FK_HANG:
		cJSON_AddStringToObject(j, key, hang_name(*(const int *)v));
		break;
	case FK_PID:
		cJSON_AddNumberToObject(j, key, *(const int *)v);
		break;
	}
}

cJSON *facts_to_json(const struct host_facts *f)
{
	cJSON *j = cJSON_CreateObject();
	for (size_t i = 0; i < N_FACT_FIELDS; i++)
		fact_to_json(j, f, i);
	cJSON *feat = cJSON_AddObjectToObject(j, "features");
	for (size_t i = 0; i < FACTS_N_FEATURES; i++)
		put_tri(feat, facts_features[i], f->features[i]);
	return j;
}

/* A whole number in 0..max, else -1: the peer's numbers are checked before conversion. */
static long long json_count(const cJSON *v, double max)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max
		   ? (long long)v->valuedouble
		   : -1;
}

static int json_tri(const cJSON *v)
{
	return cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? FACT_YES : FACT_NO) : FACT_UNKNOWN;
}

static void fact_from_json(const cJSON *v, struct host_facts *f, size_t i)
{
	void *p = fact_at(f, i);
	long long n;
	switch (fact_fields[i].kind) {
	case FK_STR:
		*(char **)p = cJSON_IsString(v) ? mig_xstrdup(v->valuestring) : NULL;
		break;
	case FK_LL:
		*(long long *)p = json_count(v, 9e18);
		break;
	case FK_LONG:
		*(long *)p = (long)json_count(v, (double)LONG_MAX / 2);
		break;
	case FK_TRI:
		*(int *)p = json_tri(v);
		break;
	case FK_FLAG:
		*(int *)p = json_tri(v) == FACT_YES;
		break;
	case FK_HANG:
		*(int *)p = HANG_SKIPPED;
		for (int h = 0; cJSON_IsString(v) && h < 4; h++)
			if (!strcmp(v->valuestring, hang_names[h]))
				*(int *)p = h;
		break;
	case FK_PID:
		n = json_count(v, INT_MAX);
		*(int *)p = n > 0 ? (int)n : 0;
		break;
	}
}

int facts_from_json(const cJSON *j, struct host_facts *f, struct mig_err **err)
{
	memset(f, 0, sizeof(*f));
	if (!cJSON_IsObject(j))
		return mig_err_set(err, 0, "facts: not a JSON object");
	for (size_t i = 0; i < N_FACT_FIELDS; i++)
		fact_from_json(cJSON_GetObjectItemCaseSensitive(j, fact_fields[i].key), f, i);
	const cJSON *feat = cJSON_GetObjectItemCaseSensitive(j, "features");
	for (size_t i = 0; i < FACTS_N_FEATURES; i++)
		f->features[i] =
		    json_tri(cJSON_GetObjectItemCaseSensitive(feat, facts_features[i]));
	return 0;
}

cJSON *facts_request(const char *name, int hang_test_ms)
{
	cJSON *req = proto_msg("doctor");
	cJSON_AddStringToObject(req, "name", name);
	cJSON_AddNumberToObject(req, "hang_test_ms", hang_test_ms);
	return req;
}

int facts_parse_request(const cJSON *req, struct facts_opts *o, struct mig_err **err)
{
	const char *name = proto_get_str(req, "name", 1, err);
	if (!name)
		return -1;
	if (!mig_valid_name(name))
		return mig_err_set(err, 0, "bad container name (" MIG_NAME_RULE ")");
	o->name = name;
	o->hang_test_ms = HANG_TEST_MS;
	if (cJSON_GetObjectItemCaseSensitive(req, "hang_test_ms")) {
		double ms = 0;
		if (proto_get_num(req, "hang_test_ms", &ms, 1, err) < 0)
			return -1;
		if (ms != ms || ms < 0)
			return mig_err_set(err, 0, "hang_test_ms must be 0 or more");
		o->hang_test_ms = ms == 0		  ? 0
				  : ms < HANG_TEST_MIN_MS ? HANG_TEST_MIN_MS
				  : ms > HANG_TEST_MAX_MS ? HANG_TEST_MAX_MS
							  : (int)ms;
	}
	return 0;
}
