/* migrate-dst, post-copy: the pages connection (pages.h). */
#include "pages.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "proto.h"
#include "timeouts.h"

/* Connections that fail the hello before the right one is given up on (only root can
 * reach a Unix listener; a TCP one is reachable by anyone who can reach the port). */
#define PAGES_MAX_TRIES 8
/* What one of them has for its pages_hello (the whole wait is PAGES_HELLO_MS). */
#define PAGES_HELLO_ONE_MS 2000

void pages_init(struct dst_pages *p)
{
	memset(p, 0, sizeof(*p));
	p->listen_fd = p->fd = -1;
}

/* A Unix listener beside the control socket (its directory is root's only: server.c checks
 * it), named at random, 0600. */
static int listen_unix(struct dst_pages *p, const char *socket_path, struct mig_err **err)
{
	char name[AUTH_HEX];
	if (auth_nonce(name, err) < 0)
		return -1;
	const char *slash = strrchr(socket_path, '/');
	int dirlen = slash ? (int)(slash - socket_path) : 1;
	const char *dir = slash ? socket_path : ".";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n =
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s/pages-%.16s.sock", dirlen, dir, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return mig_err_set(err, 0, "the pages socket's path beside %s is too long",
				   socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mig_err_set(err, errno, "pages socket");
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 1) < 0) {
		int e = errno;
		close(fd);
		if (r == 0)
			unlink(sa.sun_path);
		return mig_err_set(err, e, "pages socket %s", sa.sun_path);
	}
	snprintf(p->path, sizeof(p->path), "%s", sa.sun_path);
	p->listen_fd = fd;
	return 0;
}

/* A TCP listener on the address the control connection came to, on a port the kernel
 * picks; its number in *port. */
static int listen_tcp(struct dst_pages *p, int ctl_fd, int *port, struct mig_err **err)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(ctl_fd, (struct sockaddr *)&ss, &sl) < 0)
		return mig_err_set(err, errno, "getsockname");
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mig_err_set(err, errno, "pages socket");
	sl = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int e = errno;
		close(fd);
		return mig_err_set(err, e, "pages listener");
	}
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	p->listen_fd = fd;
	return 0;
}

int pages_listen(struct dst_pages *p, const char *socket_path, struct mig_conn *ctl, cJSON *rep,
		 struct mig_err **err)
{
	if (p->listen_fd >= 0 || p->fd >= 0)
		return mig_err_set(err, 0, "one pages connection per session");
	int fd = conn_fd(ctl);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return mig_err_set(err, fd < 0 ? 0 : errno, "the control connection's address");
	int port = 0;
	int r = ss.ss_family == AF_UNIX ? listen_unix(p, socket_path, err)
					: listen_tcp(p, fd, &port, err);
	if (r < 0 || auth_nonce(p->nonce, err) < 0) {
		pages_free(p);
		return -1;
	}
	if (p->path[0])
		cJSON_AddStringToObject(rep, "pages_socket", p->path);
	else
		cJSON_AddNumberToObject(rep, "pages_port", port);
	cJSON_AddStringToObject(rep, "nonce", p->nonce);
	return 0;
}

static void close_listener(struct dst_pages *p)
{
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	p->listen_fd = -1;
	if (p->path[0])
		unlink(p->path);
	p->path[0] = '\0';
}

/* One accepted connection's hello: 1 when it proves the session, 0 when it does not (it was
 * answered), -1 when it could not be read. */
static int check_hello(struct dst_pages *p, struct mig_conn *c, const struct auth_keys *keys,
		       const char *name, long long deadline, struct mig_err **err)
{
	/* Each connection gets a short while of its own: one that stays silent (or goes away)
	 * is refused, not waited for. */
	int left = proc_ms_left(deadline, PAGES_HELLO_ONE_MS);
	struct mig_err *e = NULL;
	cJSON *m = left > 0 ? proto_recv(c, left, &e) : NULL;
	if (!m) {
		log_warn("pages connection refused: no pages_hello (%s)",
			 e ? mig_err_msg(e) : "timed out");
		mig_err_free(&e);
		return left > 0 ? 0 : mig_err_set_status(err, MIG_TIMEOUT, "timed out");
	}
	const char *type = proto_get_str(m, "type", 0, NULL);
	const char *who = proto_get_str(m, "name", 0, NULL);
	const char *proof = proto_get_str(m, "proof", 0, NULL);
	const char *why = NULL;
	if (!type || strcmp(type, "pages_hello"))
		why = "a pages connection begins with pages_hello";
	else if (!who || strcmp(who, name))
		why = "pages_hello for another container";
	else if (keys && !auth_pages_check(keys, p->nonce, proof))
		why = "pages_hello without this session's proof";
	cJSON_Delete(m);
	cJSON *rep = proto_reply(why);
	int sent = proto_send(c, rep, &e);
	cJSON_Delete(rep);
	if (why)
		log_warn("pages connection refused: %s", why);
	if (sent < 0 && !why) {
		*err = e;
		return -1;
	}
	mig_err_free(&e);
	return why ? 0 : 1;
}

int pages_accept(struct dst_pages *p, const struct auth_keys *keys, const char *name,
		 struct mig_err **err)
{
	long long deadline = proc_deadline_in(PAGES_HELLO_MS);
	int r = 0;
	for (int tries = 0; r == 0 && tries < PAGES_MAX_TRIES; tries++) {
		struct pollfd pfd = {.fd = p->listen_fd, .events = POLLIN};
		int left = proc_ms_left(deadline, -1);
		int pr = left > 0 ? poll(&pfd, 1, left) : 0;
		if (pr < 0 && errno == EINTR) {
			tries--;
			continue;
		}
		if (pr <= 0) {
			r = pr < 0 ? mig_err_set(err, errno, "poll")
				   : mig_err_set_status(err, MIG_TIMEOUT,
							"no pages connection within %d ms",
							PAGES_HELLO_MS);
			break;
		}
		int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct mig_conn *c = conn_from_fd(fd, "pages connection");
		r = check_hello(p, c, keys, name, deadline, err);
		if (r == 1 && (p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
			r = mig_err_set(err, errno, "dup");
		c->close(c);
	}
	close_listener(p);
	if (r == 0)
		r = mig_err_set(err, 0, "no pages connection proved this session");
	return r < 0 ? mig_err_wrap(err, "pages connection") : 0;
}

void pages_free(struct dst_pages *p)
{
	close_listener(p);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}
