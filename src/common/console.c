#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

int console_listen(struct console_sock *cs, struct mig_err **err)
{
	memset(cs, 0, sizeof(*cs));
	cs->fd = -1;
	snprintf(cs->dir, sizeof(cs->dir), "/tmp/migrate-console.XXXXXX");
	if (!mkdtemp(cs->dir))
		return mig_err_set(err, errno, "console: mkdtemp %s", cs->dir);
	snprintf(cs->path, sizeof(cs->path), "%s/console.sock", cs->dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cs->path);
	cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cs->fd < 0 || bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(cs->fd, 1) < 0) {
		mig_err_set(err, errno, "console: socket %s", cs->path);
		console_close(cs);
		return -1;
	}
	return 0;
}

void console_close(struct console_sock *cs)
{
	if (cs->fd >= 0)
		close(cs->fd);
	cs->fd = -1;
	if (cs->path[0])
		unlink(cs->path);
	if (cs->dir[0])
		rmdir(cs->dir);
	cs->path[0] = cs->dir[0] = '\0';
}

static int recv_fd(int sock, struct mig_err **err)
{
	char name[4096];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return mig_err_set(err, errno, "console: recvmsg");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return mig_err_set(err, 0, "console: runc sent no pty descriptor");
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

/* The keeper: reads the pty master until the container's side is gone (EIO), writing at
 * most CONSOLE_LOG_MAX bytes to the log. */
static void __attribute__((noreturn)) keeper_loop(int master, int log)
{
	char buf[4096];
	long long written = 0;
	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		if (log >= 0 && written < CONSOLE_LOG_MAX) {
			size_t w = (size_t)n;
			if (written + n > CONSOLE_LOG_MAX)
				w = (size_t)(CONSOLE_LOG_MAX - written);
			if (write(log, buf, w) > 0)
				written += (long long)w;
		}
	}
}

/* In the keeper: stdio on /dev/null, the pty master at 3, the log at 4 (when there is
 * one), and every other descriptor closed, however high (close_range, not a loop up to an
 * assumed limit).  Returns the log's descriptor, or -1. */
static int keeper_fds(int master, int log)
{
	int m = fcntl(master, F_DUPFD, 10);
	int l = log >= 0 ? fcntl(log, F_DUPFD, 10) : -1;
	int devnull = open("/dev/null", O_RDWR);
	if (m < 0 || devnull < 0 || (log >= 0 && l < 0))
		_exit(1);
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(devnull, 2);
	dup2(m, 3);
	if (l >= 0)
		dup2(l, 4);
	unsigned first = l >= 0 ? 5 : 4;
	if (close_range(first, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long fd = first; fd < (max > 0 ? max : 65536); fd++)
			close((int)fd);
	}
	return l >= 0 ? 4 : -1;
}

static pid_t wait_retry(pid_t pid)
{
	pid_t r;
	while ((r = waitpid(pid, NULL, 0)) < 0 && errno == EINTR)
		;
	return r;
}

/* Double fork, so the keeper is not our child: it outlives us and init reaps it. */
static int start_keeper(int master, int log, pid_t *keeper, struct mig_err **err)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return mig_err_set(err, errno, "console: pipe");
	pid_t mid = fork();
	if (mid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return mig_err_set(err, errno, "console: fork");
	}
	if (mid == 0) {
		setsid();
		pid_t k = fork();
		if (k == 0) {
			signal(SIGHUP, SIG_IGN);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			int l = keeper_fds(master, log);
			keeper_loop(3, l);
		}
		(void)!write(pfd[1], &k, sizeof(k));
		_exit(k < 0);
	}
	close(pfd[1]);
	pid_t k = -1;
	ssize_t n;
	while ((n = read(pfd[0], &k, sizeof(k))) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	wait_retry(mid);
	if (n != sizeof(k) || k < 0)
		return mig_err_set(err, 0, "console: could not start the console keeper");
	*keeper = k;
	return 0;
}

int console_take(struct console_sock *cs, int timeout_ms, int log_fd, pid_t *keeper,
		 struct mig_err **err)
{
	struct pollfd pfd = {.fd = cs->fd, .events = POLLIN};
	long long deadline = proc_deadline_in(timeout_ms);
	int r;
	/* A signal does not end the wait (runc hands the console over while we wait; losing it
	 * would hang up the container's terminal), nor restart its clock. */
	do
		r = poll(&pfd, 1, proc_ms_left(deadline, -1));
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return mig_err_set(err, r < 0 ? errno : 0,
				   "console: runc did not connect to %s within %d ms", cs->path,
				   timeout_ms);
	int conn;
	while ((conn = accept4(cs->fd, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (conn < 0)
		return mig_err_set(err, errno, "console: accept");
	int master = recv_fd(conn, err);
	close(conn);
	if (master < 0)
		return -1;
	r = start_keeper(master, log_fd, keeper, err);
	close(master);
	return r;
}
