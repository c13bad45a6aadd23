/* migrate-dst's server (server.h). */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
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

#include "handler.h"
#include "log.h"
#include "mig.h"
#include "proc.h"
#include "proto.h"
#include "stop.h"
#include "timeouts.h"

/* Connections served at once; of them at most MAX_UNAUTH (and PREAUTH_PER_PEER from one
 * peer: an address, or a uid on the socket) not yet authenticated.  A new connection evicts
 * the oldest unauthenticated one rather than being refused: a flood of hellos cannot keep a
 * real migration out, which authenticates within one round trip. */
#define MAX_HANDLERS	 16
#define MAX_UNAUTH	 8
#define PREAUTH_PER_PEER 4
/* How often the server wakes to reap handlers and look at the stop flag. */
#define ACCEPT_POLL_MS 200
#define REAP_POLL_US   20000

/* ---- listening ---- */

static int listen_tcp(const char *addr, int port, char *shown, size_t shown_len,
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

/* The socket's directory: made 0700 when missing, and never one another user could write
 * to (they could put their own socket in our place). */
static int socket_dir(const char *dir, struct mig_err **err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return mig_err_set(err, errno, "control socket directory %s", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return mig_err_set(err, e, "control socket directory %s", dir);
	}
	close(fd);
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return mig_err_set(
		    err, 0,
		    "the control socket's directory %s is %s: another user could "
		    "replace the socket; use a directory only root can write to",
		    dir, st.st_uid != geteuid() ? "owned by another user" : "writable by others");
	return 0;
}

/* A socket left at path by a migrate-dst that is gone is removed; a live one is an error. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, struct mig_err **err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "control socket %s", path);
	if (!S_ISSOCK(st.st_mode))
		return mig_err_set(err, 0, "%s exists and is not a socket: not removing it", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	if (fd >= 0)
		close(fd);
	if (live)
		return mig_err_set(err, 0, "another migrate-dst is listening on %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return mig_err_set(err, errno, "removing the stale socket %s", path);
	return 0;
}

static int listen_unix(const char *path, struct mig_err **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
		return mig_err_set(err, 0,
				   "control socket %s: not an absolute path of at most %zu "
				   "bytes",
				   path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	char *dir = mig_xstrdup(path);
	*strrchr(dir, '/') = '\0';
	int r = socket_dir(dir[0] ? dir : "/", err);
	free(dir);
	if (r < 0 || clear_stale(path, &sa, err) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177); /* the socket is born 0600: root's only */
	int e = 0;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		e = errno;
	umask(old);
	if (e) {
		if (fd >= 0)
			close(fd);
		return mig_err_set(err, e, "listen on %s", path);
	}
	return fd;
}

int dst_listen(struct dst_ctx *d, struct dst_listeners *l, struct mig_err **err)
{
	memset(l, 0, sizeof(*l));
	l->tcp_fd = -1;
	l->unix_fd = listen_unix(d->cfg->socket, err);
	if (l->unix_fd < 0)
		return -1;
	snprintf(l->shown, sizeof(l->shown), "the socket %s", d->cfg->socket);
	if (!d->cfg->tcp)
		return 0;
	char tcp[128];
	l->tcp_fd = listen_tcp(d->cfg->listen_addr, d->cfg->port, tcp, sizeof(tcp), err);
	if (l->tcp_fd < 0) {
		dst_unlisten(d, l);
		return -1;
	}
	snprintf(l->shown, sizeof(l->shown), "%s and the socket %s", tcp, d->cfg->socket);
	return 0;
}

void dst_unlisten(struct dst_ctx *d, struct dst_listeners *l)
{
	if (l->unix_fd >= 0) {
		close(l->unix_fd);
		unlink(d->cfg->socket);
	}
	if (l->tcp_fd >= 0)
		close(l->tcp_fd);
	l->unix_fd = l->tcp_fd = -1;
}

/* ---- the handlers ---- */

struct handler {
	pid_t pid;
	int authed;
	long long start_ms;
	char key[64]; /* who: "uid 0" on the socket, the address on TCP */
};

struct handlers {
	struct handler h[MAX_HANDLERS];
	size_t n;
	int authed_rd, authed_wr; /* handlers write their PID here once authenticated */
};

static struct handler *find(struct handlers *hs, pid_t pid)
{
	for (size_t i = 0; i < hs->n; i++)
		if (hs->h[i].pid == pid)
			return &hs->h[i];
	return NULL;
}

/* Reaps finished handlers; returns the result of a migration among them, or -1.  An
 * unauthenticated one that was evicted (SIGKILL) was no migration. */
static int reap(struct handlers *hs)
{
	int result = -1, status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct handler *h = find(hs, pid);
		int authed = h && h->authed;
		if (h)
			*h = hs->h[--hs->n];
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : authed ? DST_FAILED : -1;
		if (code == DST_MIGRATED || code == DST_FAILED)
			result = code;
	}
	return result;
}

static void take_authed(struct handlers *hs)
{
	pid_t pid;
	while (read(hs->authed_rd, &pid, sizeof(pid)) == (ssize_t)sizeof(pid)) {
		struct handler *h = find(hs, pid);
		if (h)
			h->authed = 1;
	}
}

static void evict(struct handler *h, const char *why)
{
	log_info("%s: evicting an unauthenticated connection (pid %d): %s", h->key, (int)h->pid,
		 why);
	kill(h->pid, SIGKILL);
	h->authed = 1; /* counted no more; reaped as it ends */
	h->key[0] = '\0';
}

/* The oldest unauthenticated handler, of key when key is not NULL; *count gets how many. */
static struct handler *oldest_unauth(struct handlers *hs, const char *key, size_t *count)
{
	struct handler *old = NULL;
	*count = 0;
	for (size_t i = 0; i < hs->n; i++) {
		struct handler *h = &hs->h[i];
		if (h->authed || (key && strcmp(h->key, key)))
			continue;
		(*count)++;
		if (!old || h->start_ms < old->start_ms)
			old = h;
	}
	return old;
}

/* Room for a new connection from key: the oldest unauthenticated connections give way. */
static int make_room(struct handlers *hs, const char *key)
{
	size_t n;
	struct handler *h = oldest_unauth(hs, key, &n);
	if (n >= PREAUTH_PER_PEER)
		evict(h, "too many from this peer");
	h = oldest_unauth(hs, NULL, &n);
	if (n >= MAX_UNAUTH)
		evict(h, "too many unauthenticated connections");
	h = oldest_unauth(hs, NULL, &n);
	if (hs->n >= MAX_HANDLERS && h)
		evict(h, "all slots taken");
	return hs->n < MAX_HANDLERS;
}

/* Unauthenticated handlers past their deadline (they end themselves; this is the
 * backstop for one that does not). */
static void expire(struct handlers *hs)
{
	long long now = proc_now_ms();
	for (size_t i = 0; i < hs->n; i++)
		if (!hs->h[i].authed && now - hs->h[i].start_ms > PREAUTH_MS + KILL_GRACE_MS)
			evict(&hs->h[i], "no authentication in time");
}

static void refuse_busy(int cfd)
{
	struct mig_conn *c = conn_from_fd(cfd, "peer");
	c->write_stall_ms = 1000;
	cJSON *rep = proto_reply("migrate-dst is busy (too many connections); try again");
	struct mig_err *e = NULL;
	proto_send(c, rep, &e);
	mig_err_free(&e);
	cJSON_Delete(rep);
	c->close(c);
}

/* SIGTERM to every handler; after HANDLER_STOP_GRACE_MS, SIGKILL to those left, and they
 * are waited for too: none is left running when the server exits. */
static void stop_handlers(struct handlers *hs)
{
	for (size_t i = 0; i < hs->n; i++)
		kill(hs->h[i].pid, SIGTERM);
	long long deadline = proc_now_ms() + HANDLER_STOP_GRACE_MS;
	while (hs->n && proc_now_ms() < deadline) {
		reap(hs);
		usleep(REAP_POLL_US);
	}
	for (size_t i = 0; i < hs->n; i++) {
		log_warn("handler %d did not stop in %d ms: killing it", (int)hs->h[i].pid,
			 HANDLER_STOP_GRACE_MS);
		kill(hs->h[i].pid, SIGKILL);
	}
	deadline = proc_now_ms() + HANDLER_STOP_GRACE_MS;
	while (hs->n && proc_now_ms() < deadline) {
		reap(hs);
		usleep(REAP_POLL_US);
	}
}

/* ---- serving ---- */

/* Who the peer is, for the per-peer limit, and its name for messages. */
static void peer_of(int lfd_is_unix, int cfd, const struct sockaddr_storage *ss, socklen_t sl,
		    char *key, size_t klen, char *name, size_t nlen)
{
	if (lfd_is_unix) {
		struct ucred cr = {.uid = (uid_t)-1};
		socklen_t cl = sizeof(cr);
		getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
		snprintf(key, klen, "uid %d", (int)cr.uid);
		snprintf(name, nlen, "socket peer (uid %d, pid %d)", (int)cr.uid, (int)cr.pid);
		return;
	}
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
	getnameinfo((const struct sockaddr *)ss, sl, host, sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(key, klen, "%s", host);
	snprintf(name, nlen, "%s:%s", host, serv);
}

/* Runs in the forked handler. */
static void __attribute__((noreturn))
serve_child(struct dst_ctx *d, const struct dst_listeners *l, struct handlers *hs, int cfd,
	    const char *peer, long long accepted)
{
	close(l->unix_fd);
	if (l->tcp_fd >= 0)
		close(l->tcp_fd);
	close(hs->authed_rd);
	stop_install();
	d->authed_fd = hs->authed_wr;
	d->accepted_ms = accepted;
	struct mig_conn *c = conn_from_fd(cfd, peer);
	/* A restore the source stopped waiting for is stopped too (see await_commit). */
	d->runc.hangup_fd = cfd;
	int r = dst_handle_conn(d, c);
	c->close(c);
	fflush(NULL);
	_exit(r);
}

static void accept_one(struct dst_ctx *d, const struct dst_listeners *l, struct handlers *hs,
		       int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int cfd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	long long accepted = proc_now_ms();
	char key[64], peer[128];
	peer_of(lfd == l->unix_fd, cfd, &ss, sl, key, sizeof(key), peer, sizeof(peer));
	if (!make_room(hs, key)) {
		log_warn("%s: refused, %d connections already", peer, MAX_HANDLERS);
		refuse_busy(cfd);
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		serve_child(d, l, hs, cfd, peer, accepted);
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
	} else {
		struct handler *h = &hs->h[hs->n++];
		*h = (struct handler){.pid = pid, .start_ms = accepted};
		snprintf(h->key, sizeof(h->key), "%s", key);
	}
	close(cfd);
}

int dst_serve(struct dst_ctx *d, struct dst_listeners *l)
{
	struct handlers hs = {.n = 0};
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("pipe: %s", strerror(errno));
		dst_unlisten(d, l);
		return 1;
	}
	hs.authed_rd = pfd[0];
	hs.authed_wr = pfd[1];
	int exit_code = 0;
	while (!stop_requested()) {
		int res = reap(&hs);
		if (d->cfg->once && res >= 0) {
			exit_code = res == DST_MIGRATED ? 0 : 1;
			break;
		}
		take_authed(&hs);
		expire(&hs);
		struct pollfd p[3] = {{.fd = l->unix_fd, .events = POLLIN},
				      {.fd = l->tcp_fd, .events = POLLIN},
				      {.fd = hs.authed_rd, .events = POLLIN}};
		if (poll(p, 3, ACCEPT_POLL_MS) <= 0)
			continue;
		take_authed(&hs);
		for (int i = 0; i < 2; i++)
			if (p[i].revents & POLLIN)
				accept_one(d, l, &hs, p[i].fd);
	}
	dst_unlisten(d, l);
	stop_handlers(&hs);
	close(hs.authed_rd);
	close(hs.authed_wr);
	return exit_code;
}
