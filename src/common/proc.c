/* Child processes: fork + exec without a shell, output captured in memfds, timeouts that end
 * the whole process group.  See proc.h for why memfds and not pipes. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "text.h"
#include "timeouts.h"

/* glibc 2.34+ has close_range() but only newer headers name the flag. */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_MAX_CAPTURE (1024 * 1024)
#define NO_DEADLINE	    (-1LL)
/* How a waited-for child ended, as far as we are concerned. */
enum { END_EXITED = 0, END_TIMED_OUT, END_HUNG_UP };
/* Poll interval when pidfd_open is unavailable (seccomp filters, old kernels). */
#define FALLBACK_POLL_MS 10
/* Bound of the descriptor loop used when close_range is unavailable. */
#define FALLBACK_MAX_FD 65536

extern char **environ;

/* What a child that could not exec tells its parent through the status pipe. */
enum child_stage { STAGE_CHDIR = 1, STAGE_EXEC };

struct exec_failure {
	int stage;
	int errno_val;
};

/* Everything the child needs, prepared by the parent: between fork and exec only
 * async-signal-safe calls are allowed (no malloc), in case the parent has threads. */
struct child_setup {
	const char *const *argv;
	char *const *envp;
	const char *cwd;
	const int *keep_fds;
	int null_fd;
	int out_fd; /* memfd, or null_fd when stdout_null */
	int err_fd;
	int status_fd; /* write end of the CLOEXEC status pipe */
	int max_fd;    /* for the close_range fallback */
	int new_session;
};

long long proc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long proc_deadline_in(int timeout_ms)
{
	return timeout_ms > 0 ? proc_now_ms() + timeout_ms : NO_DEADLINE;
}

int proc_ms_left(long long deadline, int cap)
{
	if (deadline == NO_DEADLINE)
		return cap;
	long long left = deadline - proc_now_ms();
	if (left <= 0)
		return 0;
	if (cap >= 0 && left > cap)
		return cap;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The child dup2()s our descriptors onto 0-2; one of them sitting at 0-2 itself (a parent
 * started with stdin closed) would be clobbered before it is used. */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	int e = errno;
	close(fd);
	errno = e;
	return moved;
}

static const char *prog_name(const char *const argv[])
{
	if (!argv || !argv[0])
		return "(no program)";
	const char *slash = strrchr(argv[0], '/');
	return slash && slash[1] ? slash + 1 : argv[0];
}

/* ---- child side ---- */

static _Noreturn void report_and_exit(int status_fd, int stage)
{
	struct exec_failure f = {.stage = stage, .errno_val = errno};
	(void)!write(status_fd, &f, sizeof(f));
	_exit(127);
}

/* Ignored signals survive exec and a blocked mask too: rsync with SIGPIPE ignored, or a
 * child that cannot receive our timeout SIGTERM, would misbehave. */
static void child_reset_signals(void)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Marks every descriptor above 2 close-on-exec, then exempts keep_fds: unlike closing
 * ranges around them this needs no sorting, and the status pipe stays open until exec. */
static void child_fix_fds(const struct child_setup *cs)
{
	if (close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = STDERR_FILENO + 1; fd < cs->max_fd; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	for (const int *k = cs->keep_fds; k && *k >= 0; k++)
		(void)fcntl(*k, F_SETFD, 0);
}

static _Noreturn void child_exec(const struct child_setup *cs)
{
	/* A group of its own, so that one kill(-pid) on timeout reaches everything it starts,
	 * and so that it gets none of the terminal's signals meant for us. */
	if (!cs->new_session || setsid() < 0)
		setpgid(0, 0);
	child_reset_signals();
	if (dup2(cs->null_fd, STDIN_FILENO) < 0 || dup2(cs->out_fd, STDOUT_FILENO) < 0 ||
	    dup2(cs->err_fd, STDERR_FILENO) < 0)
		report_and_exit(cs->status_fd, STAGE_EXEC);
	child_fix_fds(cs);
	if (cs->cwd && chdir(cs->cwd) < 0)
		report_and_exit(cs->status_fd, STAGE_CHDIR);
	execvpe(cs->argv[0], (char *const *)cs->argv, cs->envp);
	report_and_exit(cs->status_fd, STAGE_EXEC);
}

/* ---- parent side: preparing and starting ---- */

static size_t env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* Replaces (or, for a bare "NAME", removes) the entry named like add in env[0..*n). */
static void env_put(const char **env, size_t *n, const char *add)
{
	size_t len = env_name_len(add);
	size_t i = 0;
	while (i < *n && !(strncmp(env[i], add, len) == 0 && env[i][len] == '='))
		i++;
	if (!add[len]) {
		if (i < *n)
			env[i] = env[--*n];
		return;
	}
	env[i] = add;
	if (i == *n)
		(*n)++;
}

/* The child's environment, built here because setenv() in the child may malloc.  The
 * strings are borrowed from environ and env_add; only the array is ours. */
static char **build_env(const char *const *env_add)
{
	size_t n = 0, nadd = 0;
	while (environ && environ[n])
		n++;
	while (env_add[nadd])
		nadd++;
	const char **env = mig_xcalloc(n + nadd + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		env[i] = environ[i];
	for (size_t i = 0; i < nadd; i++)
		env_put(env, &n, env_add[i]);
	env[n] = NULL;
	return (char **)env;
}

static int check_keep_fds(const int *keep_fds, struct mig_err **err)
{
	for (const int *k = keep_fds; k && *k >= 0; k++) {
		if (*k <= STDERR_FILENO)
			return mig_err_set(err, 0, "cannot pass descriptor %d to a child", *k);
		if (fcntl(*k, F_GETFD) < 0)
			return mig_err_set(err, errno, "cannot pass descriptor %d to a child", *k);
	}
	return 0;
}

static int open_memfd(const char *name, struct mig_err **err)
{
	int fd = above_stdio(memfd_create(name, MFD_CLOEXEC));
	if (fd < 0)
		return mig_err_set(err, errno, "memfd_create");
	/* Shared by the child and whatever it forks: appending keeps them from overwriting
	 * each other even if one of them seeks. */
	(void)fcntl(fd, F_SETFL, O_APPEND);
	return fd;
}

/* Opens what the child gets as stdio plus the status pipe; the captures go into p. */
static int open_child_fds(struct proc *p, struct child_setup *cs, int *status_rd,
			  struct mig_err **err)
{
	int pfd[2];
	cs->null_fd = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
	if (cs->null_fd < 0)
		return mig_err_set(err, errno, "open /dev/null");
	if (!p->opts.stdout_null && (p->out_fd = open_memfd("proc-stdout", err)) < 0)
		return -1;
	if (!p->opts.stderr_null && (p->err_fd = open_memfd("proc-stderr", err)) < 0)
		return -1;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return mig_err_set(err, errno, "pipe");
	*status_rd = pfd[0];
	cs->status_fd = above_stdio(pfd[1]);
	if (cs->status_fd < 0)
		return mig_err_set(err, errno, "pipe");
	cs->out_fd = p->out_fd >= 0 ? p->out_fd : cs->null_fd;
	cs->err_fd = p->err_fd >= 0 ? p->err_fd : cs->null_fd;
	return 0;
}

static pid_t fork_child(const struct child_setup *cs)
{
	/* No signal handler of ours may run in the child before it execs. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		child_exec(cs);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return pid;
}

/* Blocks until the child has exec'd (the CLOEXEC pipe closes) or reported why it could not. */
static int await_exec(int status_rd, const char *const argv[], const char *cwd,
		      struct mig_err **err)
{
	struct exec_failure f;
	ssize_t n;
	do
		n = read(status_rd, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(f))
		return mig_err_set(err, n < 0 ? errno : EIO, "cannot run %s", argv[0]);
	if (f.stage == STAGE_CHDIR)
		return mig_err_set(err, f.errno_val, "cannot run %s: chdir %s", argv[0], cwd);
	return mig_err_set(err, f.errno_val, "cannot run %s", argv[0]);
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

static int reap_blocking(pid_t pid, int *status)
{
	pid_t r;
	while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR)
		;
	return r == pid ? 0 : -1;
}

static void proc_release(struct proc *p)
{
	close_fd(&p->pidfd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	p->pid = -1;
}

static int start_child(struct proc *p, const char *const argv[], struct child_setup *cs,
		       struct mig_err **err)
{
	int status_rd = -1;
	int r = open_child_fds(p, cs, &status_rd, err);
	if (r == 0) {
		char **envp = p->opts.env_add ? build_env(p->opts.env_add) : environ;
		cs->envp = envp;
		p->start_ms = proc_now_ms();
		p->pid = fork_child(cs);
		if (p->pid < 0)
			r = mig_err_set(err, errno, "cannot run %s: fork", argv[0]);
		if (envp != environ)
			free(envp);
	}
	close_fd(&cs->status_fd); /* only then can the read see EOF at exec */
	close_fd(&cs->null_fd);
	if (r == 0 && await_exec(status_rd, argv, cs->cwd, err) < 0) {
		int st;
		(void)reap_blocking(p->pid, &st);
		r = -1;
	}
	close_fd(&status_rd);
	return r;
}

int proc_spawn(struct proc *p, const char *const argv[], const struct proc_opts *opts,
	       struct mig_err **err)
{
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->pidfd = p->out_fd = p->err_fd = -1;
	if (opts)
		p->opts = *opts;
	if (!argv || !argv[0])
		return mig_err_set(err, EINVAL, "cannot run a program with an empty argv");
	if (check_keep_fds(p->opts.keep_fds, err) < 0)
		return -1;
	long max_fd = sysconf(_SC_OPEN_MAX);
	struct child_setup cs = {
	    .argv = argv,
	    .cwd = p->opts.cwd,
	    .keep_fds = p->opts.keep_fds,
	    .new_session = p->opts.new_session,
	    .null_fd = -1,
	    .out_fd = -1,
	    .err_fd = -1,
	    .status_fd = -1,
	    .max_fd = max_fd > 0 && max_fd < FALLBACK_MAX_FD ? (int)max_fd : FALLBACK_MAX_FD,
	};
	if (start_child(p, argv, &cs, err) < 0) {
		proc_release(p);
		return -1;
	}
	/* Not having a pidfd only costs polling; see wait_exit(). */
	p->pidfd = open_pidfd(p->pid);
	return 0;
}

/* ---- parent side: waiting and ending ---- */

static long long proc_deadline(const struct proc *p)
{
	return p->opts.timeout_ms > 0 ? p->start_ms + p->opts.timeout_ms : NO_DEADLINE;
}

/* Sleeps until the child may have exited or `until`; returns 1 when the watched socket's
 * peer hung up (only if watch is set). */
static int sleep_on_child(const struct proc *p, long long until, int watch)
{
	long long left = until == NO_DEADLINE ? -1 : until - proc_now_ms();
	int ms = left < 0 ? -1 : (left > INT_MAX ? INT_MAX : (int)left);
	if (p->pidfd < 0 && (ms < 0 || ms > FALLBACK_POLL_MS))
		ms = FALLBACK_POLL_MS;
	/* poll() skips a negative fd, so without a pidfd this only sleeps.  POLLRDHUP and
	 * not POLLIN: the peer may legitimately send data, which is not ours to read. */
	struct pollfd pfd[2] = {{.fd = p->pidfd, .events = POLLIN},
				{.fd = watch ? p->opts.hangup_fd : -1, .events = POLLRDHUP}};
	if (poll(pfd, 2, ms) <= 0) /* EINTR or not, the caller checks again */
		return 0;
	return (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* 1 once the child has exited, 0 if `until` passed first, 2 if the watched socket's peer
 * hung up first (only when watch is set), -1 if it is not our child any more.  The child is
 * left a zombie: until it is reaped its PID, and so its process group ID, cannot be reused,
 * which makes kill(-pid) after its exit safe. */
static int wait_exit_watch(const struct proc *p, long long until, int watch)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (si.si_pid == p->pid)
			return 1;
		if (until != NO_DEADLINE && proc_now_ms() >= until)
			return 0;
		if (sleep_on_child(p, until, watch))
			return 2;
	}
}

static int wait_exit(const struct proc *p, long long until)
{
	return wait_exit_watch(p, until, 0);
}

/* SIGTERM to the group, the grace for the child to clean up, then SIGKILL to whatever of
 * the group is left (grandchildren that ignored SIGTERM too).  Leaves the child unreaped. */
static void end_group(const struct proc *p)
{
	int grace = p->opts.kill_grace_ms > 0 ? p->opts.kill_grace_ms : KILL_GRACE_MS;
	kill(-p->pid, SIGTERM);
	int r = wait_exit(p, proc_now_ms() + grace);
	if (r == 0) {
		kill(-p->pid, SIGKILL);
		r = wait_exit(p, NO_DEADLINE);
	}
	if (r == 1)
		kill(-p->pid, SIGKILL);
}

/* ---- results ---- */

static void result_empty(struct proc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->out = mig_xstrdup("");
	res->err_tail = mig_xstrdup("");
}

/* Reads len bytes at off (less if the file is shorter); pread because the file offset is
 * shared with the child's descriptor and sits at the end. */
static char *read_span(int fd, off_t off, size_t len, size_t *got)
{
	char *buf = mig_xmalloc(len + 1);
	size_t n = 0;
	while (n < len) {
		ssize_t r = pread(fd, buf + n, len - n, off + (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (got)
		*got = n;
	return buf;
}

static off_t fd_size(int fd)
{
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
}

static char *read_head(int fd, size_t max, size_t *got)
{
	size_t size = (size_t)fd_size(fd);
	return read_span(fd, 0, size < max ? size : max, got);
}

static char *read_tail(int fd, size_t max)
{
	off_t size = fd_size(fd);
	off_t off = size > (off_t)max ? size - (off_t)max : 0;
	size_t n;
	char *s = read_span(fd, off, (size_t)(size - off), &n);
	while (n > 0 && s[n - 1] && strchr(" \t\r\n\v\f", s[n - 1]))
		s[--n] = '\0';
	return s;
}

static void fill_result(const struct proc *p, int status, int ended, struct proc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = status;
	res->hung_up = ended == END_HUNG_UP;
	int timed_out = ended == END_TIMED_OUT;
	res->exited = WIFEXITED(status);
	res->exit_code = res->exited ? WEXITSTATUS(status) : 0;
	res->signaled = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	res->timed_out = timed_out;
	res->timeout_ms = p->opts.timeout_ms;
	res->elapsed_ms = proc_now_ms() - p->start_ms;
	size_t max = p->opts.max_capture ? p->opts.max_capture : DEFAULT_MAX_CAPTURE;
	res->out = read_head(p->out_fd, max, &res->out_len);
	res->err_tail = p->err_fd >= 0 ? read_tail(p->err_fd, PROC_STDERR_TAIL) : mig_xstrdup("");
}

int proc_capture_open(const char *name, struct mig_err **err)
{
	return open_memfd(name, err);
}

char *proc_capture_tail(int fd, size_t max)
{
	return read_tail(fd, max);
}

/* Gives up on a child that is not ours any more (someone reaped it: a SIGCHLD handler
 * waiting for any child, or SIGCHLD ignored); its exit status is lost. */
static int lost_child(struct proc *p, struct proc_result *res, struct mig_err **err)
{
	int e = errno;
	pid_t pid = p->pid;
	proc_release(p);
	result_empty(res);
	return mig_err_set(err, e, "wait for child %d", (int)pid);
}

/* Reaps the (exited) child, fills res and frees everything p holds. */
static int reap_into(struct proc *p, int ended, struct proc_result *res, struct mig_err **err)
{
	int status = 0;
	if (reap_blocking(p->pid, &status) < 0)
		return lost_child(p, res, err);
	fill_result(p, status, ended, res);
	proc_release(p);
	return 0;
}

int proc_wait_for(struct proc *p, int wait_ms, struct proc_result *res, struct mig_err **err)
{
	if (p->pid <= 0) {
		result_empty(res);
		return mig_err_set(err, ECHILD, "wait for a child that is not running");
	}
	long long deadline = proc_deadline(p);
	long long until = wait_ms < 0 ? NO_DEADLINE : proc_now_ms() + wait_ms;
	if (deadline != NO_DEADLINE && (until == NO_DEADLINE || deadline < until))
		until = deadline;
	int r = wait_exit_watch(p, until, p->opts.hangup_fd > 0);
	if (r < 0)
		return lost_child(p, res, err);
	int ended = END_EXITED;
	if (r == 2) {
		end_group(p);
		ended = END_HUNG_UP;
	} else if (r == 0) {
		if (deadline == NO_DEADLINE || proc_now_ms() < deadline)
			return 1;
		end_group(p);
		ended = END_TIMED_OUT;
	}
	return reap_into(p, ended, res, err);
}

int proc_wait(struct proc *p, struct proc_result *res, struct mig_err **err)
{
	return proc_wait_for(p, -1, res, err);
}

void proc_kill(struct proc *p, struct proc_result *res)
{
	struct proc_result discard;
	struct proc_result *r = res ? res : &discard;
	if (p->pid <= 0) {
		result_empty(r);
	} else {
		end_group(p);
		(void)reap_into(p, END_EXITED, r, NULL);
	}
	if (!res)
		proc_result_free(&discard);
}

int proc_run(const char *const argv[], const struct proc_opts *opts, struct proc_result *res,
	     struct mig_err **err)
{
	struct proc p;
	if (proc_spawn(&p, argv, opts, err) < 0) {
		result_empty(res);
		return -1;
	}
	return proc_wait(&p, res, err);
}

static char *describe_end(const struct proc_result *res)
{
	if (res->hung_up)
		return mig_xstrdup("stopped because the requester hung up");
	if (res->timed_out && res->timeout_ms >= 1000 && res->timeout_ms % 1000 == 0)
		return mig_strdup_printf("timed out after %d s", res->timeout_ms / 1000);
	if (res->timed_out)
		return mig_strdup_printf("timed out after %d ms", res->timeout_ms);
	if (res->signaled)
		return mig_strdup_printf("killed by signal %d", res->signaled);
	if (res->exited)
		return mig_strdup_printf("exited with code %d", res->exit_code);
	return mig_strdup_printf("ended with wait status %#x", (unsigned)res->status);
}

int proc_result_err(const char *const argv[], const struct proc_result *res, struct mig_err **err)
{
	char *how = describe_end(res);
	char *tail = text_one_line(res->err_tail ? res->err_tail : "", 0);
	if (*tail)
		mig_err_set(err, 0, "%s %s: %s", prog_name(argv), how, tail);
	else
		mig_err_set(err, 0, "%s %s", prog_name(argv), how);
	free(tail);
	free(how);
	return -1;
}

int proc_run_ok(const char *const argv[], const struct proc_opts *opts, struct proc_result *res,
		struct mig_err **err)
{
	if (proc_run(argv, opts, res, err) < 0)
		return -1;
	if (res->exited && res->exit_code == 0)
		return 0;
	return proc_result_err(argv, res, err);
}

void proc_result_free(struct proc_result *res)
{
	if (!res)
		return;
	free(res->out);
	free(res->err_tail);
	memset(res, 0, sizeof(*res));
}

static int needs_quotes(const char *s)
{
	return !*s || strpbrk(s, " \t\n'") != NULL;
}

/* Appends s to o, in single quotes if needed (a ' inside becomes '\''). */
static char *put_arg(char *o, const char *s)
{
	if (!needs_quotes(s))
		return stpcpy(o, s);
	*o++ = '\'';
	for (; *s; s++) {
		if (*s == '\'')
			o = stpcpy(o, "'\\''");
		else
			*o++ = *s;
	}
	*o++ = '\'';
	return o;
}

char *proc_argv_str(const char *const argv[])
{
	size_t len = 1;
	for (size_t i = 0; argv && argv[i]; i++)
		len += strlen(argv[i]) * 4 + 3; /* worst case: every char a quote */
	char *out = mig_xmalloc(len);
	char *o = out;
	*o = '\0';
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i)
			*o++ = ' ';
		o = put_arg(o, argv[i]);
	}
	*o = '\0';
	return out;
}
