/* migrate-dst's server (server.h). */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "mig.h"
#include "proc.h"
#include "proto.h"
#include "stop.h"
#include "timeouts.h"

#define MAX_HANDLERS 16
/* How often the server wakes to reap handlers and look at the stop flag. */
#define ACCEPT_POLL_MS 200
#define REAP_POLL_US   20000

static int listen_on(const char *addr, int port, char *shown, size_t shown_len,
		     struct mig_err **err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	int rc = getaddrinfo(addr, ps, &hints, &res);
	if (rc)
		return mig_err_set(err, 0, "listen address %s: %s", addr, gai_strerror(rc));
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		freeaddrinfo(res);
		if (fd >= 0)
			close(fd);
		return mig_err_set(err, e, "listen on %s:%d", addr, port);
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(shown, shown_len, "%s:%s", host, serv);
	return fd;
}

static void peer_name(const struct sockaddr_storage *ss, socklen_t sl, char *buf, size_t len)
{
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
	getnameinfo((const struct sockaddr *)ss, sl, host, sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, len, "%s:%s", host, serv);
}

/* Runs in the forked handler. */
static void __attribute__((noreturn))
serve_child(struct dst_ctx *d, int lfd, int cfd, const char *peer)
{
	close(lfd);
	stop_install();
	struct mig_conn *c = conn_from_fd(cfd, peer);
	/* A restore the source stopped waiting for is stopped too (see await_commit). */
	d->runc.hangup_fd = cfd;
	int r = dst_handle_conn(d, c);
	c->close(c);
	fflush(NULL);
	_exit(r);
}

struct handlers {
	pid_t pids[MAX_HANDLERS];
	size_t n;
};

/* Reaps finished handlers; returns the result of a migration among them, or -1. */
static int reap(struct handlers *h)
{
	int result = -1, status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < h->n; i++) {
			if (h->pids[i] == pid) {
				h->pids[i] = h->pids[--h->n];
				break;
			}
		}
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : DST_FAILED;
		if (code == DST_MIGRATED || code == DST_FAILED)
			result = code;
	}
	return result;
}

static void refuse_busy(int cfd)
{
	struct mig_conn *c = conn_from_fd(cfd, "peer");
	cJSON *rep = proto_reply("migrate-dst is busy (too many connections); try again");
	struct mig_err *e = NULL;
	proto_send(c, rep, &e);
	mig_err_free(&e);
	cJSON_Delete(rep);
	c->close(c);
}

static void stop_handlers(struct handlers *h)
{
	for (size_t i = 0; i < h->n; i++)
		kill(h->pids[i], SIGTERM);
	long long deadline = proc_now_ms() + HANDLER_STOP_GRACE_MS;
	while (h->n && proc_now_ms() < deadline) {
		reap(h);
		usleep(REAP_POLL_US);
	}
}

int dst_listen(struct dst_ctx *d, char *shown, size_t shown_len, struct mig_err **err)
{
	return listen_on(d->cfg->listen_addr, d->cfg->port, shown, shown_len, err);
}

int dst_serve(struct dst_ctx *d, int lfd)
{
	struct handlers h = {.n = 0};
	int exit_code = 0;
	while (!stop_requested()) {
		int res = reap(&h);
		if (d->cfg->once && res >= 0) {
			exit_code = res == DST_MIGRATED ? 0 : 1;
			break;
		}
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};
		if (poll(&pfd, 1, ACCEPT_POLL_MS) <= 0)
			continue;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		char peer[128];
		peer_name(&ss, sl, peer, sizeof(peer));
		if (h.n >= MAX_HANDLERS) {
			log_warn("%s: refused, %d connections already", peer, MAX_HANDLERS);
			refuse_busy(cfd);
			continue;
		}
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0)
			serve_child(d, lfd, cfd, peer);
		if (pid < 0)
			log_error("fork: %s", strerror(errno));
		else
			h.pids[h.n++] = pid;
		close(cfd);
	}
	close(lfd);
	stop_handlers(&h);
	return exit_code;
}
