/* What runc and rsync are asked to do (argv), and how their output is read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "proc.h"
#include "criu.h"
#include "runc.h"
#include "source/transfer.h"

static void assert_argv(const char *const *got, const char *want)
{
	char *s = proc_argv_str(got);
	if (strcmp(s, want))
		fail_msg("argv\n  got:  %s\n  want: %s", s, want);
	free(s);
}

static void test_checkpoint_argv(void **state)
{
	(void)state;
	struct runc_ctx rc = {.runc = "runc", .root = "/run/r"};
	struct runc_ckpt c = {.image_path = "/b/c1/image"};
	const char *argv[RUNC_MAX_ARGS];
	char fd[RUNC_FD_BUF];
	runc_checkpoint_argv(&rc, "c1", &c, argv, fd);
	assert_argv(argv, "runc --root /run/r checkpoint --image-path /b/c1/image c1");
	struct runc_ckpt pre = {.image_path = "/b/c1/parent", .pre_dump = 1, .work_path = "/w"};
	rc.root = NULL;
	runc_checkpoint_argv(&rc, "c1", &pre, argv, fd);
	assert_argv(argv, "runc checkpoint --pre-dump --image-path /b/c1/parent --work-path /w c1");
	struct runc_ckpt fin = {.image_path = "/b/c1/image", .parent_path = "../parent"};
	runc_checkpoint_argv(&rc, "c1", &fin, argv, fd);
	assert_argv(argv, "runc checkpoint --image-path /b/c1/image --parent-path ../parent c1");
	struct runc_ckpt lazy = {
	    .image_path = "/b/c1/image", .lazy = 1, .page_server = "10.0.0.1:27", .status_fd = 5};
	rc.criu = "/opt/criu";
	runc_checkpoint_argv(&rc, "c1", &lazy, argv, fd);
	assert_argv(argv, "runc --criu /opt/criu checkpoint --image-path /b/c1/image --lazy-pages "
			  "--page-server 10.0.0.1:27 --status-fd 5 c1");
}

static void test_restore_argv(void **state)
{
	(void)state;
	struct runc_ctx rc = {.runc = "/usr/sbin/runc", .root = "/run/d"};
	struct runc_restore r = {
	    .bundle = "/b/c1", .image_path = "/b/c1/image", .work_path = "/b/c1/work"};
	const char *argv[RUNC_MAX_ARGS];
	runc_restore_argv(&rc, "c1", &r, argv);
	assert_argv(argv, "/usr/sbin/runc --root /run/d restore -d --image-path /b/c1/image "
			  "--work-path /b/c1/work --bundle /b/c1 c1");
	r.lazy = 1;
	runc_restore_argv(&rc, "c1", &r, argv);
	assert_argv(argv, "/usr/sbin/runc --root /run/d restore -d --lazy-pages --image-path "
			  "/b/c1/image --work-path /b/c1/work --bundle /b/c1 c1");
	r.lazy = 0;
	r.console_socket = "/tmp/s/console.sock";
	runc_restore_argv(&rc, "c1", &r, argv);
	assert_argv(argv, "/usr/sbin/runc --root /run/d restore -d --image-path /b/c1/image "
			  "--work-path /b/c1/work --bundle /b/c1 --console-socket "
			  "/tmp/s/console.sock c1");
	r.console_socket = NULL;
	r.log_path = "/proc/self/fd/7"; /* a global option: before the command */
	runc_restore_argv(&rc, "c1", &r, argv);
	assert_argv(argv, "/usr/sbin/runc --root /run/d --log /proc/self/fd/7 restore -d "
			  "--image-path /b/c1/image --work-path /b/c1/work --bundle /b/c1 c1");
}

static void test_versions_and_state(void **state)
{
	(void)state;
	char *v = runc_parse_version("runc version 1.1.15+ds1\ncommit: x\nspec: 1.2.0\n");
	assert_string_equal(v, "1.1.15+ds1");
	free(v);
	v = runc_parse_version("Version: 4.1.1\n");
	assert_string_equal(v, "4.1.1");
	free(v);
	assert_null(runc_parse_version("garbage"));
	int pid = -1;
	assert_int_equal(
	    runc_parse_state("{\"id\":\"c1\",\"pid\":4242,\"status\":\"running\"}", &pid),
	    RUNC_RUNNING);
	assert_int_equal(pid, 4242);
	assert_int_equal(runc_parse_state("{\"status\":\"paused\"}", NULL), RUNC_PAUSED);
	assert_int_equal(runc_parse_state("{\"status\":\"stopped\"}", NULL), RUNC_STOPPED);
	assert_int_equal(runc_parse_state("{\"status\":\"weird\"}", NULL), RUNC_UNKNOWN);
	assert_int_equal(runc_parse_state("not json", NULL), RUNC_UNKNOWN);
	assert_string_equal(runc_status_name(RUNC_ABSENT), "absent");
}

static void test_criu_log_excerpt(void **state)
{
	(void)state;
	char path[] = "/tmp/test_criu_log.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *log = "(00.1) Dumping\n(00.2) Error (criu/sk-inet.c:188): inet: Connected TCP "
			  "socket, consider using --tcp-established option.\n(00.3) Unfreezing\n"
			  "(00.4) Error (criu/cr-dump.c:2111): Dumping FAILED.\n";
	assert_int_equal(write(fd, log, strlen(log)), (ssize_t)strlen(log));
	close(fd);
	char *ex = criu_log_excerpt(path);
	assert_string_equal(ex, "(00.2) Error (criu/sk-inet.c:188): inet: Connected TCP socket, "
				"consider using --tcp-established option. | (00.4) Error "
				"(criu/cr-dump.c:2111): Dumping FAILED.");
	free(ex);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "a\nb\n", 4), 4);
	close(fd);
	ex = criu_log_excerpt(path); /* no Error line: the tail */
	assert_string_equal(ex, "a | b");
	free(ex);
	unlink(path);
	assert_null(criu_log_excerpt("/nonexistent/dump.log"));
}

static void test_lazy_log_bytes(void **state)
{
	(void)state;
	char path[] = "/tmp/test_lazy_log.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	/* A real daemon's log (CRIU 4.2.1) with a child (13) forked from 1 during the
	 * transfer and alive at the end: its count (8) starts with its parent's 3. */
	const char *log = "(00.101000) uffd: 1-12: Found 11 pages to be handled by UFFD\n"
			  "(00.133671) uffd: 1-12: uffd_copy: 0x389e5000/12288\n"
			  "(00.140000) uffd: 1-12: FORK: child with ufd=13\n"
			  "(00.189886) uffd: 1-12: uffd_copy: 0x5e5000/32768\n"
			  "(00.190382) uffd: 13-13: uffd_copy: 0x5e5000/4096\n"
			  "(00.190394) uffd: 13-13: uffd_copy: 0x7ffe99e44000/16384\n"
			  "(00.190400) uffd: 13-13: uffd_copy: 0x7ffe99e44000/-5\n"
			  "(00.194375) uffd: 1-12: UFFD transferred pages: (11/11)\n"
			  "(00.195200) uffd: 13-13: UFFD transferred pages: (8/8)\n";
	assert_int_equal(write(fd, log, strlen(log)), (ssize_t)strlen(log));
	close(fd);
	assert_int_equal(criu_lazy_log_bytes(path), 12288 + 32768 + 4096 + 16384);
	/* never through a link */
	char link[] = "/tmp/test_lazy_log_link.XXXXXX";
	int lfd = mkstemp(link);
	assert_true(lfd >= 0);
	close(lfd);
	unlink(link);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(criu_lazy_log_bytes(link), -1);
	unlink(link);
	/* nothing copied (every page was zero) is 0, not unknown */
	fd = open(path, O_WRONLY | O_TRUNC);
	const char *none = "(00.194375) uffd: 1-12: UFFD transferred pages: (0/0)\n";
	assert_int_equal(write(fd, none, strlen(none)), (ssize_t)strlen(none));
	close(fd);
	assert_int_equal(criu_lazy_log_bytes(path), 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "nothing here\n", 13), 13);
	close(fd);
	assert_int_equal(criu_lazy_log_bytes(path), -1);
	unlink(path);
	assert_int_equal(criu_lazy_log_bytes("/nonexistent"), -1);
}

static void test_runc_clean_stderr(void **state)
{
	(void)state;
	char *c =
	    runc_clean_stderr("time=\"2026-11-25T21:42:49Z\" level=error msg=\"container still "
			      "running\" | time=\"x\" level=error msg=\"criu failed: type "
			      "NOTIFY errno 0\\nlog file: dump.log\"");
	assert_string_equal(c, "container still running; criu failed: type NOTIFY errno 0 log "
			       "file: dump.log");
	free(c);
	/* warnings are dropped where there are errors, kept where there are none */
	c = runc_clean_stderr("time=\"t\" level=warning msg=\"Failed to remove cgroup (will "
			      "retry)\"\ntime=\"t\" level=error msg=\"criu failed\"\ntime=\"t\" "
			      "level=warning msg=\"again\"");
	assert_string_equal(c, "criu failed");
	free(c);
	c = runc_clean_stderr("time=\"t\" level=warning msg=\"only a warning\"");
	assert_string_equal(c, "only a warning");
	free(c);
	c = runc_clean_stderr("plain message");
	assert_string_equal(c, "plain message");
	free(c);
	c = runc_clean_stderr("");
	assert_string_equal(c, "");
	free(c);
}

static void test_rsync_argv(void **state)
{
	(void)state;
	struct xfer_ctx x = {.ssh = {.host = "10.0.0.2",
				     .user = "root",
				     .port = 2222,
				     .identity = "/root/.ssh/id",
				     .known_hosts = "/tmp/kh"}};
	const char *srcs[] = {"/b/c1/rootfs", "/b/c1/image"};
	struct xfer_argv a;
	struct mig_err *err = NULL;
	assert_int_equal(xfer_build_argv(&x, XFER_ROOTFS, srcs, 2, "/d/c1", &a, &err), 0);
	assert_argv(a.argv, "rsync -aHAX --numeric-ids --delete --one-file-system --stats -s "
			    "--timeout=60 -e 'ssh -p 2222 -i /root/.ssh/id -o "
			    "UserKnownHostsFile=/tmp/kh -o BatchMode=yes -o "
			    "StrictHostKeyChecking=yes -o ConnectTimeout=30 -o Compression=no -l "
			    "root --' -- /b/c1/rootfs /b/c1/image 10.0.0.2:/d/c1/");
	xfer_argv_free(&a);
	x.ssh.host = "fe80::1";
	x.ssh.identity = "/key with space";
	x.ssh.known_hosts = NULL;
	assert_int_equal(xfer_build_argv(&x, XFER_IMAGE, srcs + 1, 1, "/d/c1", &a, &err), 0);
	assert_string_equal(a.argv[1], "-a");
	assert_non_null(strstr(a.argv[8], "-i '/key with space'"));
	assert_string_equal(a.argv[9], "--");
	assert_string_equal(a.argv[11], "[fe80::1]:/d/c1/");
	xfer_argv_free(&a);
	x.ssh.identity = "/it's";
	assert_int_equal(xfer_build_argv(&x, XFER_IMAGE, srcs, 1, "/d", &a, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "quote"));
	mig_err_free(&err);
}

/* Through the master connection, with compression and progress: the extra options, and
 * the master's own argv. */
static void test_rsync_argv_master(void **state)
{
	(void)state;
	struct xfer_ctx x = {.ssh = {.host = "10.0.0.2", .user = "root", .port = 22},
			     .control_path = "/tmp/migrate-src.abc/ssh.sock",
			     .compress = "zstd",
			     .progress = 1};
	const char *srcs[] = {"/b/c1/image"};
	struct xfer_argv a;
	struct mig_err *err = NULL;
	assert_int_equal(xfer_build_argv(&x, XFER_IMAGE, srcs, 1, "/d/c1", &a, &err), 0);
	assert_argv(a.argv, "rsync -a --delete --one-file-system --stats -s --timeout=60 -z "
			    "--compress-choice=zstd --info=progress2 -e 'ssh -p 22 -S "
			    "/tmp/migrate-src.abc/ssh.sock -o ControlMaster=no -o BatchMode=yes -o "
			    "StrictHostKeyChecking=yes -o ConnectTimeout=30 -o Compression=no -l "
			    "root --' -- /b/c1/image 10.0.0.2:/d/c1/");
	xfer_argv_free(&a);
	x.ssh.known_hosts = "/tmp/kh";
	xfer_master_argv(&x, "/tmp/m/ssh.sock", &a);
	assert_argv(a.argv, "ssh -p 22 -o UserKnownHostsFile=/tmp/kh -o BatchMode=yes -o "
			    "StrictHostKeyChecking=yes -o ConnectTimeout=30 -o Compression=no -o "
			    "ServerAliveInterval=15 -o ServerAliveCountMax=4 -o ControlMaster=yes "
			    "-o ControlPersist=no -N -S /tmp/m/ssh.sock -l root -- 10.0.0.2");
	xfer_argv_free(&a);
}

/* The remote command is one argument for ssh, every word single-quoted for the remote
 * shell, quotes inside escaped: nothing in a name or option is interpreted there. */
static void test_remote_argv_quoting(void **state)
{
	(void)state;
	struct xfer_ctx x = {.ssh = {.host = "h", .user = "root", .port = 22}};
	const char *cmd[] = {"migrate-src", "--back-opt=$(reboot)", "it's", "a b;c", NULL};
	struct xfer_argv a;
	struct mig_err *err = NULL;
	assert_int_equal(xfer_remote_argv(&x, cmd, &a, &err), 0);
	size_t n = 0;
	while (a.argv[n])
		n++;
	assert_string_equal(a.argv[n - 3], "--");
	assert_string_equal(a.argv[n - 2], "h");
	assert_string_equal(a.argv[n - 1],
			    "'migrate-src' '--back-opt=$(reboot)' 'it'\\''s' 'a b;c'");
	xfer_argv_free(&a);
}

static void test_progress_line(void **state)
{
	(void)state;
	char buf[100];
	const char *out = "\r         32,768   0%    0.00kB/s    0:00:00  "
			  "\r      1,048,576  45%   10.20MB/s    0:00:01 (xfr#1, to-chk=2/5)"
			  "\r      2,0";
	xfer_progress_line(out, strlen(out), buf, sizeof(buf));
	assert_string_equal(buf, "1,048,576  45%   10.20MB/s    0:00:01");
	xfer_progress_line("sending incremental file list\n", 30, buf, sizeof(buf));
	assert_string_equal(buf, "");
	xfer_progress_line("", 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_rsync_stats(void **state)
{
	(void)state;
	struct xfer_stats st;
	xfer_parse_stats("Number of files: 12 (reg: 10, dir: 2)\n"
			 "Total file size: 9,999,999 bytes\n"
			 "Total transferred file size: 2,097,152 bytes\n"
			 "Total bytes sent: 2,100,333\n"
			 "Total bytes received: 250\n",
			 &st);
	assert_int_equal(st.bytes_sent, 2100333);
	assert_int_equal(st.file_bytes, 2097152);
	xfer_parse_stats("nothing", &st);
	assert_int_equal(st.bytes_sent, -1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[256];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The operator's CRIU_CONFIG_FILE is carried whole into ours, also through a link; one that
 * cannot be read whole is an error, never dropped or cut. */
static void test_criu_config_operator(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_criu_cfg.XXXXXX", real[64], link[64], big[64], out[256];
	assert_non_null(mkdtemp(dir));
	snprintf(real, sizeof(real), "%s/real.conf", dir);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	snprintf(big, sizeof(big), "%s/big.conf", dir);
	FILE *f = fopen(real, "w");
	fputs("log-level=4\n", f);
	fclose(f);
	assert_int_equal(symlink(real, link), 0);
	const char *lines[] = {"tcp-established", NULL};
	struct mig_err *e = NULL;
	setenv("CRIU_CONFIG_FILE", link, 1);
	assert_int_equal(criu_config_write(lines, out, sizeof(out), &e), 0);
	assert_string_equal(slurp(out), "log-level=4\n\ntcp-established\n");
	unlink(out);
	f = fopen(big, "w");
	for (int i = 0; i < 70 * 1024; i++)
		fputc(i % 64 ? '#' : '\n', f);
	fclose(f);
	setenv("CRIU_CONFIG_FILE", big, 1);
	assert_int_equal(criu_config_write(lines, out, sizeof(out), &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "larger than"));
	mig_err_free(&e);
	assert_string_equal(out, "");
	setenv("CRIU_CONFIG_FILE", "/nonexistent/criu.conf", 1);
	assert_int_equal(criu_config_write(lines, out, sizeof(out), &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "/nonexistent/criu.conf"));
	mig_err_free(&e);
	unsetenv("CRIU_CONFIG_FILE");
	unlink(big);
	unlink(link);
	unlink(real);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checkpoint_argv),	cmocka_unit_test(test_restore_argv),
	    cmocka_unit_test(test_versions_and_state),	cmocka_unit_test(test_criu_log_excerpt),
	    cmocka_unit_test(test_runc_clean_stderr),	cmocka_unit_test(test_lazy_log_bytes),
	    cmocka_unit_test(test_rsync_argv),		cmocka_unit_test(test_rsync_stats),
	    cmocka_unit_test(test_rsync_argv_master),	cmocka_unit_test(test_progress_line),
	    cmocka_unit_test(test_remote_argv_quoting), cmocka_unit_test(test_criu_config_operator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
