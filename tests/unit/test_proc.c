/* Running programs: capture, exit status, timeouts that end the process group, fds, env.
 *
 * main() makes this process a child subreaper, so grandchildren orphaned by a test come back
 * to us: a test can then tell by PID whether one is dead (reaped here) and clean it up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define SH(script)                            \
	(const char *const[])                 \
	{                                     \
		"/bin/sh", "-c", script, NULL \
	}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static pid_t parse_pid(const char *s)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	assert_true(end != s);
	assert_true(v > 1 && v < INT_MAX);
	return (pid_t)v;
}

/* The PID on the last line of s. */
static pid_t last_line_pid(const char *s)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '\n')
		n--;
	while (n > 0 && s[n - 1] != '\n')
		n--;
	return parse_pid(s + n);
}

/* 1 when pid (an orphan handed to us as subreaper) dies within ms; reaps it and stores its
 * wait status (-1 if someone else reaped it). */
static int reaped_within(pid_t pid, int ms, int *status)
{
	long long until = proc_now_ms() + ms;
	int st = -1;
	do {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD && kill(pid, 0) < 0)) {
			if (status)
				*status = r == pid ? st : -1;
			return 1;
		}
		sleep_ms(10);
	} while (proc_now_ms() < until);
	return 0;
}

static void kill_and_reap(pid_t pid)
{
	if (kill(pid, SIGKILL) == 0)
		(void)reaped_within(pid, 5000, NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A descriptor number that cannot be 0-2 and is unlikely to be taken already. */
static int high_fd(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 20);
	assert_true(h >= 20);
	close(fd);
	return h;
}

static void test_capture_stdout_and_stderr(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 10000};
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(
	    proc_run(SH("echo out1; echo err1 >&2; echo out2; printf 'err2\\n\\n \\t\\n' >&2"), &o,
		     &res, &err),
	    0);
	assert_null(err);
	assert_string_equal(res.out, "out1\nout2\n");
	assert_int_equal(res.out_len, 10);
	assert_string_equal(res.err_tail, "err1\nerr2");
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.signaled, 0);
	assert_int_equal(res.timed_out, 0);
	assert_true(res.elapsed_ms >= 0 && res.elapsed_ms < 10000);
	proc_result_free(&res);
}

static void test_stdin_is_dev_null(void **state)
{
	(void)state;
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(proc_run(SH("readlink /proc/self/fd/0; cat; echo end"), NULL, &res, &err),
			 0);
	assert_string_equal(res.out, "/dev/null\nend\n");
	proc_result_free(&res);
}

/* A parent started with stdin closed gets fd 0 for its first new descriptor: the child's
 * stdio must still come out right. */
static void test_parent_stdin_closed(void **state)
{
	(void)state;
	int saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	close(STDIN_FILENO);
	struct proc_result res;
	struct mig_err *err = NULL;
	int r = proc_run(SH("readlink /proc/self/fd/0; echo e >&2"), NULL, &res, &err);
	dup2(saved, STDIN_FILENO);
	close(saved);
	assert_int_equal(r, 0);
	assert_string_equal(res.out, "/dev/null\n");
	assert_string_equal(res.err_tail, "e");
	proc_result_free(&res);
}

static void test_exit_code_and_message(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 10000};
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(proc_run_ok(SH("echo partial; echo bad thing >&2; echo more >&2; exit 3"),
				     &o, &res, &err),
			 -1);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 3);
	assert_string_equal(res.out, "partial\n");
	assert_string_equal(mig_err_msg(err), "sh exited with code 3: bad thing | more");
	mig_err_free(&err);
	proc_result_free(&res);

	assert_int_equal(proc_run_ok(SH("echo fine"), &o, &res, &err), 0);
	assert_null(err);
	assert_string_equal(res.out, "fine\n");
	proc_result_free(&res);
}

static void test_killed_by_signal(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 10000};
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(proc_run_ok(SH("kill -9 $$"), &o, &res, &err), -1);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signaled, SIGKILL);
	assert_int_equal(res.timed_out, 0);
	assert_string_equal(mig_err_msg(err), "sh killed by signal 9");
	mig_err_free(&err);
	proc_result_free(&res);
}

/* The child leaves `sleep` running in its process group; the timeout must end both. */
static void test_timeout_kills_process_group(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 500};
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(proc_run_ok(SH("sleep 30 & echo $!; wait"), &o, &res, &err), -1);
	pid_t grandchild = parse_pid(res.out);
	int st;
	int gone = reaped_within(grandchild, 2000, &st);
	if (!gone)
		kill_and_reap(grandchild);
	assert_true(gone);
	/* The grandchild too was asked politely first (criu under runc gets to clean up). */
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.signaled, SIGTERM);
	assert_true(res.elapsed_ms >= 500 && res.elapsed_ms < 5000);
	assert_string_equal(mig_err_msg(err), "sh timed out after 500 ms");
	mig_err_free(&err);
	proc_result_free(&res);
}

/* Child and grandchild ignore SIGTERM: SIGKILL after the grace must end both. */
static void test_timeout_sigkill_after_grace(void **state)
{
	(void)state;
	/* 1.5 s: time enough for the shell to print its child's PID on a loaded machine. */
	struct proc_opts o = {.timeout_ms = 1500, .kill_grace_ms = 300};
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(
	    proc_run(SH("trap '' TERM; sleep 30 & echo $!; echo stuck >&2; wait"), &o, &res, &err),
	    0);
	pid_t grandchild = parse_pid(res.out);
	int st;
	int gone = reaped_within(grandchild, 2000, &st);
	if (!gone)
		kill_and_reap(grandchild);
	assert_true(gone);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.signaled, SIGKILL);
	assert_true(res.elapsed_ms >= 1800 && res.elapsed_ms < 6000);
	assert_int_equal(proc_result_err(SH(""), &res, &err), -1);
	assert_string_equal(mig_err_msg(err), "sh timed out after 1500 ms: stuck");
	mig_err_free(&err);
	proc_result_free(&res);
}

static void check_result_err(const char *const argv[], const struct proc_result *res,
			     const char *want)
{
	struct mig_err *err = NULL;
	assert_int_equal(proc_result_err(argv, res, &err), -1);
	assert_string_equal(mig_err_msg(err), want);
	mig_err_free(&err);
}

static void test_result_err_format(void **state)
{
	(void)state;
	const char *rsync[] = {"/usr/bin/rsync", "-a", NULL};
	struct proc_result to = {.timed_out = 1, .signaled = SIGTERM, .timeout_ms = 30000};
	to.err_tail = "";
	check_result_err(rsync, &to, "rsync timed out after 30 s");
	to.err_tail = "\nssh: connect to host\r\n\r\nConnection refused";
	check_result_err(rsync, &to,
			 "rsync timed out after 30 s: ssh: connect to host | Connection refused");
	to.timeout_ms = 1500;
	check_result_err(rsync, &to,
			 "rsync timed out after 1500 ms: ssh: connect to host | "
			 "Connection refused");

	const char *runc[] = {"runc", "restore", NULL};
	struct proc_result ex = {.exited = 1, .exit_code = 1, .err_tail = "no such container"};
	check_result_err(runc, &ex, "runc exited with code 1: no such container");

	const char *criu[] = {"criu", NULL};
	struct proc_result sig = {.signaled = 9};
	check_result_err(criu, &sig, "criu killed by signal 9");
}

static void test_exec_failure_is_an_error(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 10000};
	struct proc_result res;
	struct mig_err *err = NULL;
	const char *missing[] = {"mig-no-such-program-xyz", "--version", NULL};
	assert_int_equal(proc_run(missing, &o, &res, &err), -1);
	assert_string_equal(mig_err_msg(err),
			    "cannot run mig-no-such-program-xyz: No such file or directory");
	assert_int_equal(err->errno_val, ENOENT);
	assert_non_null(res.out);
	assert_string_equal(res.out, "");
	assert_non_null(res.err_tail);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.timed_out, 0);
	mig_err_free(&err);
	proc_result_free(&res);

	const char *path[] = {"/nonexistent-mig/rsync", NULL};
	assert_int_equal(proc_run_ok(path, &o, &res, &err), -1);
	assert_string_equal(mig_err_msg(err), "cannot run /nonexistent-mig/rsync: No such file "
					      "or directory");
	mig_err_free(&err);
	proc_result_free(&res);

	const char *not_exec[] = {"/etc/passwd", NULL};
	assert_int_equal(proc_run(not_exec, &o, &res, &err), -1);
	assert_string_equal(mig_err_msg(err), "cannot run /etc/passwd: Permission denied");
	mig_err_free(&err);
	proc_result_free(&res);

	const char *empty[] = {NULL};
	assert_int_equal(proc_run(empty, &o, &res, &err), -1);
	assert_non_null(err);
	mig_err_free(&err);
	proc_result_free(&res);
}

static void test_env_add(void **state)
{
	(void)state;
	const char *home = getenv("HOME");
	char *home_before = home ? strdup(home) : NULL;
	setenv("MIG_TEST_UNSET", "still here", 1);
	const char *env[] = {"MIG_TEST_A=hello world", "HOME=/mig-home", "MIG_TEST_UNSET",
			     "MIG_TEST_B=x=y", NULL};
	struct proc_opts o = {.timeout_ms = 10000, .env_add = env};
	struct proc_result res;
	struct mig_err *err = NULL;
	int r = proc_run(SH("echo \"$MIG_TEST_A|$HOME|${MIG_TEST_UNSET-unset}|$MIG_TEST_B\""), &o,
			 &res, &err);
	assert_int_equal(r, 0);
	assert_string_equal(res.out, "hello world|/mig-home|unset|x=y\n");
	/* Ours is untouched. */
	assert_null(getenv("MIG_TEST_A"));
	assert_string_equal(getenv("MIG_TEST_UNSET"), "still here");
	if (home_before)
		assert_string_equal(getenv("HOME"), home_before);
	free(home_before);
	proc_result_free(&res);

	/* Without env_add the child gets our environment as it is. */
	o.env_add = NULL;
	assert_int_equal(proc_run(SH("echo \"$MIG_TEST_UNSET\""), &o, &res, &err), 0);
	assert_string_equal(res.out, "still here\n");
	unsetenv("MIG_TEST_UNSET");
	proc_result_free(&res);
}

static void test_cwd(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_proc.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char *real = realpath(tmpl, NULL);
	assert_non_null(real);
	struct proc_opts o = {.timeout_ms = 10000, .cwd = tmpl};
	struct proc_result res;
	struct mig_err *err = NULL;
	int r = proc_run(SH("pwd -P"), &o, &res, &err);
	rmdir(tmpl);
	assert_int_equal(r, 0);
	char *want = mig_strdup_printf("%s\n", real);
	assert_string_equal(res.out, want);
	free(want);
	free(real);
	proc_result_free(&res);

	o.cwd = "/nonexistent-mig-dir";
	assert_int_equal(proc_run(SH("pwd"), &o, &res, &err), -1);
	assert_string_equal(mig_err_msg(err), "cannot run /bin/sh: chdir /nonexistent-mig-dir: No "
					      "such file or directory");
	mig_err_free(&err);
	proc_result_free(&res);
}

/* A kept descriptor is usable at the same number; an inheritable one not kept is closed. */
static void test_keep_fds(void **state)
{
	(void)state;
	int kp[2], leak[2];
	assert_int_equal(pipe2(kp, O_CLOEXEC), 0);
	assert_int_equal(pipe(leak), 0); /* no CLOEXEC: only our closing keeps it from the child */
	int kfd = high_fd(kp[1]);
	int keep[] = {kfd, -1};
	struct proc_opts o = {.timeout_ms = 10000, .keep_fds = keep};
	char script[256];
	snprintf(script, sizeof(script),
		 "echo kept > /proc/self/fd/%d; for fd in %d %d; do "
		 "if [ -e /proc/self/fd/$fd ]; then echo open; else echo closed; fi; done",
		 kfd, leak[0], leak[1]);
	struct proc_result res;
	struct mig_err *err = NULL;
	int r = proc_run(SH(script), &o, &res, &err);
	close(kfd);
	close(leak[0]);
	close(leak[1]);
	char buf[64] = {0};
	ssize_t n = read(kp[0], buf, sizeof(buf) - 1);
	close(kp[0]);
	assert_int_equal(r, 0);
	assert_string_equal(res.out, "closed\nclosed\n");
	assert_int_equal(n, 5);
	assert_string_equal(buf, "kept\n");
	proc_result_free(&res);

	int stdio[] = {1, -1};
	o.keep_fds = stdio;
	assert_int_equal(proc_run(SH("true"), &o, &res, &err), -1);
	assert_non_null(err);
	mig_err_free(&err);
	proc_result_free(&res);
}

/* A background process holding stdout open must not make us wait for it (a pipe would). */
static void test_daemon_holding_stdout_does_not_hang(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 20000};
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(proc_run(SH("sleep 30 & echo hi; echo $!"), &o, &res, &err), 0);
	pid_t daemon = last_line_pid(res.out);
	/* Only a timeout ends what the child leaves behind; a normal exit does not. */
	int alive = kill(daemon, 0) == 0 && waitpid(daemon, NULL, WNOHANG) == 0;
	kill_and_reap(daemon);
	assert_true(alive);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(res.exit_code, 0);
	assert_true(res.elapsed_ms < 5000);
	assert_int_equal(strncmp(res.out, "hi\n", 3), 0);
	proc_result_free(&res);
}

static void test_stderr_tail_truncated(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 10000};
	struct proc_result res;
	struct mig_err *err = NULL;
	/* 6003 bytes: 600 x "0123456789" then "END". */
	assert_int_equal(proc_run(SH("i=0; while [ $i -lt 600 ]; do printf 0123456789; "
				     "i=$((i+1)); done >&2; printf END >&2; exit 1"),
				  &o, &res, &err),
			 0);
	assert_int_equal(strlen(res.err_tail), PROC_STDERR_TAIL);
	assert_int_equal(res.err_tail[0], '0' + (6003 - PROC_STDERR_TAIL) % 10);
	assert_string_equal(res.err_tail + PROC_STDERR_TAIL - 3, "END");
	assert_int_equal(proc_result_err(SH(""), &res, &err), -1);
	assert_true(strlen(mig_err_msg(err)) < PROC_STDERR_TAIL + 64);
	mig_err_free(&err);
	proc_result_free(&res);
}

static void test_max_capture_and_stdout_null(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 10000, .max_capture = 100};
	struct proc_result res;
	struct mig_err *err = NULL;
	assert_int_equal(proc_run(SH("yes | head -c 5000"), &o, &res, &err), 0);
	assert_int_equal(res.out_len, 100);
	assert_int_equal(strlen(res.out), 100);
	assert_int_equal(strncmp(res.out, "y\ny\n", 4), 0);
	proc_result_free(&res);

	struct proc_opts null = {.timeout_ms = 10000, .stdout_null = 1};
	assert_int_equal(proc_run(SH("echo hi; x=$(readlink /proc/$$/fd/1); echo \"$x\" >&2"),
				  &null, &res, &err),
			 0);
	assert_non_null(res.out);
	assert_string_equal(res.out, "");
	assert_int_equal(res.out_len, 0);
	assert_string_equal(res.err_tail, "/dev/null");
	proc_result_free(&res);
}

static void test_wait_for(void **state)
{
	(void)state;
	int go[2];
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	int rfd = high_fd(go[0]);
	int keep[] = {rfd, -1};
	struct proc_opts o = {.timeout_ms = 10000, .keep_fds = keep};
	char script[128];
	snprintf(script, sizeof(script), "read x < /proc/self/fd/%d; echo \"got $x\"", rfd);
	struct proc p;
	struct mig_err *err = NULL;
	assert_int_equal(proc_spawn(&p, SH(script), &o, &err), 0);
	close(rfd);
	struct proc_result res = {.exit_code = 42};
	int first = proc_wait_for(&p, 100, &res, &err);
	int untouched = res.exit_code == 42 && res.out == NULL;
	assert_int_equal(write(go[1], "go\n", 3), 3);
	close(go[1]);
	int second = proc_wait_for(&p, 5000, &res, &err);
	assert_int_equal(first, 1);
	assert_true(untouched);
	assert_int_equal(second, 0);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(res.out, "got go\n");
	assert_int_equal(p.pid, -1);
	proc_result_free(&res);
}

static void test_wait_for_honours_timeout(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 300, .kill_grace_ms = 500};
	struct proc p;
	struct proc_result res;
	struct mig_err *err = NULL;
	const char *argv[] = {"sleep", "30", NULL};
	assert_int_equal(proc_spawn(&p, argv, &o, &err), 0);
	assert_int_equal(proc_wait_for(&p, 20000, &res, &err), 0);
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.signaled, SIGTERM);
	assert_true(res.elapsed_ms >= 300 && res.elapsed_ms < 5000);
	proc_result_free(&res);
}

static void test_proc_kill(void **state)
{
	(void)state;
	struct proc_opts o = {.timeout_ms = 20000};
	struct proc p;
	struct proc_result res;
	struct mig_err *err = NULL;
	const char *argv[] = {"sleep", "30", NULL};
	assert_int_equal(proc_spawn(&p, argv, &o, &err), 0);
	pid_t pid = p.pid;
	assert_int_equal(proc_wait_for(&p, 50, &res, &err), 1);
	proc_kill(&p, &res);
	assert_int_equal(res.signaled, SIGTERM);
	assert_int_equal(res.timed_out, 0);
	assert_true(res.elapsed_ms < 5000);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* already reaped */
	proc_result_free(&res);
	proc_kill(&p, NULL); /* a second time does nothing */
}

/* By default a group of its own in our session; new_session: a session of its own too. */
static void test_new_session(void **state)
{
	(void)state;
	const char *argv[] = {"sleep", "30", NULL};
	for (int ns = 0; ns <= 1; ns++) {
		struct proc_opts o = {.timeout_ms = 20000, .new_session = ns};
		struct proc p;
		struct proc_result res;
		struct mig_err *err = NULL;
		assert_int_equal(proc_spawn(&p, argv, &o, &err), 0);
		assert_int_equal(getpgid(p.pid), p.pid);
		if (ns)
			assert_int_equal(getsid(p.pid), p.pid);
		else
			assert_int_equal(getsid(p.pid), getsid(0));
		proc_kill(&p, &res);
		assert_int_equal(res.signaled, SIGTERM);
		proc_result_free(&res);
	}
}

static void test_no_fd_leak(void **state)
{
	(void)state;
	int before = count_fds();
	struct proc_opts o = {.timeout_ms = 200, .kill_grace_ms = 100};
	struct proc_result res;
	struct mig_err *err = NULL;
	const char *ok[] = {"true", NULL};
	const char *slow[] = {"sleep", "30", NULL};
	const char *missing[] = {"mig-no-such-program-xyz", NULL};
	assert_int_equal(proc_run(ok, &o, &res, &err), 0);
	proc_result_free(&res);
	assert_int_equal(proc_run(slow, &o, &res, &err), 0);
	assert_int_equal(res.timed_out, 1);
	proc_result_free(&res);
	assert_int_equal(proc_run(missing, &o, &res, &err), -1);
	mig_err_free(&err);
	proc_result_free(&res);
	o.stdout_null = 1;
	assert_int_equal(proc_run(ok, &o, &res, &err), 0);
	proc_result_free(&res);
	assert_int_equal(count_fds(), before);
}

/* The requester's socket closes while the child runs: the child is ended at once (not at
 * its 30 s timeout) and the error says why. */
static void test_hangup_fd_ends_child(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct proc p;
	struct proc_opts po = {.timeout_ms = 30000, .kill_grace_ms = 200, .hangup_fd = sv[0]};
	struct mig_err *e = NULL;
	assert_int_equal(proc_spawn(&p, SH("sleep 30"), &po, &e), 0);
	struct proc_result res;
	assert_int_equal(proc_wait_for(&p, 100, &res, &e), 1); /* still running */
	close(sv[1]);
	long long t0 = proc_now_ms();
	assert_int_equal(proc_wait(&p, &res, &e), 0);
	assert_true(proc_now_ms() - t0 < 5000);
	assert_int_equal(res.hung_up, 1);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(proc_result_err(SH("x"), &res, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "stopped because the requester hung up"));
	mig_err_free(&e);
	proc_result_free(&res);
	close(sv[0]);
}

/* Data from the peer is not a hang-up: the child runs to its end. */
static void test_hangup_fd_ignores_data(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	struct proc_opts po = {.timeout_ms = 30000, .hangup_fd = sv[0]};
	struct proc_result res;
	struct mig_err *e = NULL;
	assert_int_equal(proc_run(SH("sleep 0.3; exit 3"), &po, &res, &e), 0);
	assert_int_equal(res.hung_up, 0);
	assert_int_equal(res.exit_code, 3);
	proc_result_free(&res);
	close(sv[0]);
	close(sv[1]);
}

static void test_argv_str(void **state)
{
	(void)state;
	const char *argv[] = {"rsync", "-e", "ssh -p 22", "", "it's", "a\tb", "plain", NULL};
	char *s = proc_argv_str(argv);
	assert_string_equal(s, "rsync -e 'ssh -p 22' '' 'it'\\''s' 'a\tb' plain");
	free(s);
	const char *none[] = {NULL};
	s = proc_argv_str(none);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	/* See the top of the file. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("prctl(PR_SET_CHILD_SUBREAPER)");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_capture_stdout_and_stderr),
	    cmocka_unit_test(test_stdin_is_dev_null),
	    cmocka_unit_test(test_parent_stdin_closed),
	    cmocka_unit_test(test_exit_code_and_message),
	    cmocka_unit_test(test_killed_by_signal),
	    cmocka_unit_test(test_timeout_kills_process_group),
	    cmocka_unit_test(test_timeout_sigkill_after_grace),
	    cmocka_unit_test(test_result_err_format),
	    cmocka_unit_test(test_exec_failure_is_an_error),
	    cmocka_unit_test(test_env_add),
	    cmocka_unit_test(test_cwd),
	    cmocka_unit_test(test_keep_fds),
	    cmocka_unit_test(test_daemon_holding_stdout_does_not_hang),
	    cmocka_unit_test(test_stderr_tail_truncated),
	    cmocka_unit_test(test_max_capture_and_stdout_null),
	    cmocka_unit_test(test_wait_for),
	    cmocka_unit_test(test_wait_for_honours_timeout),
	    cmocka_unit_test(test_proc_kill),
	    cmocka_unit_test(test_new_session),
	    cmocka_unit_test(test_no_fd_leak),
	    cmocka_unit_test(test_hangup_fd_ends_child),
	    cmocka_unit_test(test_hangup_fd_ignores_data),
	    cmocka_unit_test(test_argv_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
