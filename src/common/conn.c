#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "stop.h"
#include "tunnel.h"

struct fd_conn {
	struct mig_conn base;
	int fd;
	char peer[96];
};

/* How often a wait looks at the stop flag besides being woken by the signal itself (a
 * signal that came just before poll). */
#define STOP_SLICE_MS 500

/* Waits for fd to become readable/writable before the deadline (-1: no deadline), or a stop
 * request. */
int conn_check_stop(const struct mig_conn *c, struct mig_err **err)
{
	if ((!c || !c->uninterruptible) && stop_requested())
		return mig_err_set_status(err, MIG_STOPPED, "interrupted by a signal");
	return 0;
}

static int wait_fd(const struct mig_conn *c, int fd, short events, long long deadline,
		   struct mig_err **err)
{
	for (;;) {
		if (conn_check_stop(c, err) < 0)
			return -1;
		int left = proc_ms_left(deadline, STOP_SLICE_MS);
		if (left == 0)
			return mig_err_set_status(err, MIG_TIMEOUT, "timed out");
		/* The page tunnel moves while we wait (tunnel.h); when it just moved something,
		 * we only look. */
		struct pollfd p[1 + TUNNEL_MAX_POLLFDS] = {{.fd = fd, .events = events}};
		int n = 1 + tunnel_pollfds(p + 1);
		int r = poll(p, (nfds_t)n, n > 1 && tunnel_pump() ? 0 : left);
		if (r < 0 && errno != EINTR)
			return mig_err_set(err, errno, "poll");
		if (n > 1)
			tunnel_pump();
		if (r > 0 && p[0].revents)
			return 0;
	}
}

int conn_write_stall_ms(const struct mig_conn *c)
{
	return c->write_stall_ms > 0 ? c->write_stall_ms : CONN_WRITE_STALL_MS;
}

static int fd_read_full(struct mig_conn *c, void *buf, size_t n, int timeout_ms,
			struct mig_err **err)
{
	struct fd_conn *fc = (struct fd_conn *)c;
	long long deadline = proc_deadline_in(timeout_ms);
	size_t got = 0;
	while (got < n) {
		if (wait_fd(c, fc->fd, POLLIN, deadline, err) < 0)
			return mig_err_wrap(err, "read from %s", c->peer);
		ssize_t r = recv(fc->fd, (char *)buf + got, n - got, 0);
		if (r == 0)
			return mig_err_set_status(err, MIG_CLOSED,
						  "read from %s: connection closed", c->peer);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET)
				return mig_err_set_status(err, MIG_CLOSED,
							  "read from %s: connection closed (reset)",
							  c->peer);
			return mig_err_set(err, errno, "read from %s", c->peer);
		}
		got += (size_t)r;
	}
	return 0;
}

static int fd_write_full(struct mig_conn *c, const void *buf, size_t n, struct mig_err **err)
{
	struct fd_conn *fc = (struct fd_conn *)c;
	size_t done = 0;
	while (done < n) {
		/* A deadline per bit of progress: never blocked in send() for good. */
		if (wait_fd(c, fc->fd, POLLOUT, proc_deadline_in(conn_write_stall_ms(c)), err) < 0)
			return mig_err_wrap(err, "write to %s", c->peer);
		/* MSG_NOSIGNAL: a vanished peer is an error to report, not a SIGPIPE. */
		ssize_t r =
		    send(fc->fd, (const char *)buf + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET || errno == EPIPE)
				return mig_err_set_status(
				    err, MIG_CLOSED, "write to %s: connection closed", c->peer);
			return mig_err_set(err, errno, "write to %s", c->peer);
		}
		done += (size_t)r;
	}
	return 0;
}

static int fd_alive(struct mig_conn *c)
{
	struct pollfd pfd = {.fd = ((struct fd_conn *)c)->fd, .events = POLLRDHUP};
	if (poll(&pfd, 1, 0) <= 0)
		return 1;
	return !(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t fd_read_some(struct mig_conn *c, void *buf, size_t n, struct mig_err **err)
{
	ssize_t r = recv(((struct fd_conn *)c)->fd, buf, n, MSG_DONTWAIT);
	if (r > 0)
		return r;
	if (r == 0)
		return mig_err_set_status(err, MIG_CLOSED, "read from %s: end of data", c->peer);
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	if (errno == ECONNRESET)
		return mig_err_set(err, errno, "read from %s: connection reset", c->peer);
	return mig_err_set(err, errno, "read from %s", c->peer);
}

static ssize_t fd_write_some(struct mig_conn *c, const void *buf, size_t n, struct mig_err **err)
{
	ssize_t r = send(((struct fd_conn *)c)->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return mig_err_set(err, errno, "write to %s", c->peer);
}

static void fd_shut_write(struct mig_conn *c)
{
	(void)shutdown(((struct fd_conn *)c)->fd, SHUT_WR);
}

static int fd_poll_fd(const struct mig_conn *c, int want_read, int want_write, short *events)
{
	*events = (short)((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));
	return ((const struct fd_conn *)c)->fd;
}

static void fd_close(struct mig_conn *c)
{
	struct fd_conn *fc = (struct fd_conn *)c;
	if (!fc)
		return;
	close(fc->fd);
	free(fc);
}

struct mig_conn *conn_from_fd(int fd, const char *peer)
{
	/* Small request/reply messages: no Nagle (fails harmlessly on non-TCP sockets). */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct fd_conn *fc = mig_xcalloc(1, sizeof(*fc));
	fc->fd = fd;
	snprintf(fc->peer, sizeof(fc->peer), "%s", peer ? peer : "peer");
	fc->base.read_full = fd_read_full;
	fc->base.write_full = fd_write_full;
	fc->base.alive = fd_alive;
	fc->base.close = fd_close;
	fc->base.read_some = fd_read_some;
	fc->base.write_some = fd_write_some;
	fc->base.shut_write = fd_shut_write;
	fc->base.poll_fd = fd_poll_fd;
	fc->base.peer = fc->peer;
	return &fc->base;
}

int conn_fd(const struct mig_conn *c)
{
	if (!c || c->close != fd_close)
		return -1;
	return ((const struct fd_conn *)c)->fd;
}

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms,
			   struct mig_err **err)
{
	/* A non-blocking connect bounded by poll: an unreachable host must not hang for the
	 * kernel's own SYN retry time (minutes). */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return mig_err_set(err, errno, "fcntl");
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS)
		return mig_err_set(err, errno, "connect");
	if (wait_fd(NULL, fd, POLLOUT, proc_deadline_in(timeout_ms), err) < 0)
		return mig_err_wrap(err, "connect");
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return mig_err_set(err, errno, "getsockopt");
	if (soerr)
		return mig_err_set(err, soerr, "connect");
	if (fcntl(fd, F_SETFL, fl) < 0)
		return mig_err_set(err, errno, "fcntl");
	return 0;
}

struct mig_conn *conn_tcp_connect(const char *host, int port, int timeout_ms, struct mig_err **err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res = NULL;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		mig_err_set(err, 0, "resolve %s: %s", host, gai_strerror(rc));
		return NULL;
	}
	struct mig_err *last = NULL;
	struct mig_conn *c = NULL;
	for (struct addrinfo *ai = res; ai && !c; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			mig_err_free(&last);
			mig_err_set(&last, errno, "socket");
			continue;
		}
		mig_err_free(&last);
		if (connect_timeout(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms, &last) < 0) {
			close(fd);
			continue;
		}
		char peer[96];
		snprintf(peer, sizeof(peer), "%s:%d", host, port);
		c = conn_from_fd(fd, peer);
	}
	freeaddrinfo(res);
	if (!c) {
		*err = last;
		mig_err_wrap(err, "%s:%d", host, port);
		return NULL;
	}
	mig_err_free(&last);
	return c;
}

struct mig_conn *conn_unix_connect(const char *path, int timeout_ms, struct mig_err **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		mig_err_set(err, 0, "socket path %s is too long", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    connect_timeout(fd, (struct sockaddr *)&sa, sizeof(sa), timeout_ms, err) < 0) {
		if (fd < 0)
			mig_err_set(err, errno, "socket");
		else
			close(fd);
		mig_err_wrap(err, "%s", path);
		return NULL;
	}
	return conn_from_fd(fd, path);
}

int sock_local_addr(int fd, char *buf, size_t len, struct mig_err **err)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return mig_err_set(err, errno, "getsockname");
	int rc =
	    getnameinfo((struct sockaddr *)&ss, sl, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
	if (rc)
		return mig_err_set(err, 0, "getnameinfo: %s", gai_strerror(rc));
	return 0;
}

char *conn_host_join(const char *host, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *rest = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	int v6 = strchr(host, ':') != NULL;
	char *s = mig_strdup_printf("%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "", rest);
	free(rest);
	return s;
}

int conn_local_addr_towards(const char *host, char *buf, size_t len, struct mig_err **err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, "9", &hints, &res);
	if (rc)
		return mig_err_set(err, 0, "resolve %s: %s", host, gai_strerror(rc));
	/* connect() on a UDP socket only picks the route and source address: nothing is sent. */
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0)
		r = mig_err_set(err, errno, "route to %s", host);
	else
		r = sock_local_addr(fd, buf, len, err);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return r;
}
