/* The page server's one connection (pageserver.h). */
#include "pageserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "timeouts.h"

/* CRIU's commands (criu/page-xfer.c): the low 16 bits of a record's first u32. */
#define PS_IOV_GET	   7
#define PS_IOV_CLOSE	   0x1023
#define PS_IOV_FORCE_CLOSE 0x1024
#define PS_CMD_MASK	   0xffff

/* How often /proc/self/net/tcp is read while the page server has not accepted yet. */
#define ACCEPT_POLL_MS 5

size_t page_server_record_size(const char *v)
{
	unsigned major = 0, minor = 0;
	if (!v || sscanf(v, "%u.%u", &major, &minor) != 2 || major < 3 || major > 4)
		return 0;
	if (major == 4 && minor >= 2)
		return 4 + (_Alignof(uint64_t) - 4) + 3 * 8;
	return 4 + 4 + 2 * 8;
}

void ps_watch_init(struct ps_watch *w, size_t rec)
{
	memset(w, 0, sizeof(*w));
	w->rec = rec <= sizeof(w->part) ? rec : 0;
}

void ps_watch_observe(void *ctx, const void *buf, size_t n)
{
	struct ps_watch *w = ctx;
	const unsigned char *p = buf;
	long long at = w->seen; /* the stream's offset of p */
	w->seen += (long long)n;
	if (n > 0 && w->goodbye) {
		/* the daemon waits for the answer after its goodbye: anything else is not
		 * CRIU's protocol, and neither it nor the goodbye passes */
		w->goodbye = 0, w->spoiled = 1, w->rec = 0;
		return;
	}
	while (w->rec && n > 0) {
		size_t take = w->rec - w->have < n ? w->rec - w->have : n;
		memcpy(w->part + w->have, p, take);
		w->have += take, p += take, n -= take, at += (long long)take;
		if (w->have < sizeof(uint32_t))
			break; /* its command is not known yet: it waits */
		uint32_t cmd;
		memcpy(&cmd, w->part, sizeof(cmd)); /* the same machine's byte order */
		cmd &= PS_CMD_MASK;
		int bye = cmd == PS_IOV_CLOSE || cmd == PS_IOV_FORCE_CLOSE;
		if (cmd != PS_IOV_GET && !bye) {
			/* not what we know: held (CRIU's page server would fail on it and
			 * resume the container here while the destination's copy runs) */
			w->rec = 0, w->spoiled = 1;
			break;
		}
		if (!bye)
			w->pass = at; /* a GET's bytes pass as they come */
		if (w->have < w->rec)
			break;
		w->have = 0;
		if (bye) {
			w->goodbye = n == 0;
			w->spoiled = n > 0;
			w->rec = n == 0 ? w->rec : 0;
			return;
		}
	}
	if (!w->rec && !w->spoiled)
		w->pass = w->seen;
}

struct tunnel_watch ps_watch_tunnel(struct ps_watch *w)
{
	return (struct tunnel_watch){.observe = ps_watch_observe,
				     .said_goodbye = ps_watch_goodbye,
				     .watching = ps_watch_watching,
				     .passable = ps_watch_passable,
				     .ctx = w};
}

int ps_watch_goodbye(void *ctx)
{
	const struct ps_watch *w = ctx;
	return w->rec && w->goodbye;
}

int ps_watch_watching(void *ctx)
{
	return ((const struct ps_watch *)ctx)->rec != 0;
}

long long ps_watch_passable(void *ctx)
{
	return ((const struct ps_watch *)ctx)->pass;
}

int page_server_tcp_row(const char *line, unsigned from, unsigned to, unsigned long *inode)
{
	unsigned la, lp, ra, rp, st;
	unsigned long ino;
	/* "  4: 0100007F:1B58 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0
	 *  0 12345 ..." */
	if (sscanf(line, " %*u: %8X:%4X %8X:%4X %2X %*X:%*X %*X:%*X %*X %*u %*u %lu", &la, &lp, &ra,
		   &rp, &st, &ino) != 6)
		return 0;
	const unsigned lo = htonl(INADDR_LOOPBACK);
	if (la != lo || ra != lo || lp != to || rp != from)
		return 0;
	*inode = ino;
	return 1;
}

/* Our end was reset or closed (the listener went away with our connection queued). */
static int reset(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* 1 when the server side of our connection has a socket (was accepted), 0 when not yet,
 * -1 when our connection was reset. */
static int accepted(int fd, unsigned from, unsigned to, struct mig_err **err)
{
	FILE *f = fopen("/proc/self/net/tcp", "re");
	if (!f)
		return mig_err_set(err, errno, "/proc/self/net/tcp");
	char line[512];
	int found = 0;
	unsigned long ino = 0;
	while (!found && fgets(line, sizeof(line), f))
		found = page_server_tcp_row(line, from, to, &ino);
	fclose(f);
	if (found && ino != 0)
		return 1;
	return reset(fd) ? -1 : 0;
}

/* A connect bounded by the deadline: a listener whose queue is full drops our SYN, and the
 * kernel would retry for minutes. */
static int connect_loopback(int port, long long deadline, int *fd, unsigned *from,
			    struct mig_err **err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*fd < 0)
		return mig_err_set(err, errno, "socket");
	int e = 0;
	if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		struct pollfd p = {.fd = *fd, .events = POLLOUT};
		int left;
		while (e == EINPROGRESS && (left = proc_ms_left(deadline, -1)) != 0) {
			if (poll(&p, 1, left) > 0) {
				socklen_t sl = sizeof(e);
				if (getsockopt(*fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
					e = errno;
			}
		}
		if (e == EINPROGRESS)
			e = ETIMEDOUT;
	}
	struct sockaddr_in me;
	socklen_t sl = sizeof(me);
	if (e == 0 && getsockname(*fd, (struct sockaddr *)&me, &sl) < 0)
		e = errno;
	if (e) {
		close(*fd);
		*fd = -1;
		return mig_err_set(err, e, "CRIU's page server on 127.0.0.1:%d%s", port,
				   e == ECONNREFUSED ? " no longer listens: another local process "
						       "connected to it first (it takes one "
						       "connection); the container's memory may "
						       "have been read by it"
						     : "");
	}
	*from = ntohs(me.sin_port);
	return 0;
}

int page_server_connect(int port, int *fd, struct mig_err **err)
{
	unsigned from = 0;
	long long deadline = proc_deadline_in(PAGE_SERVER_ACCEPT_MS);
	if (connect_loopback(port, deadline, fd, &from, err) < 0)
		return -1;
	int r;
	while ((r = accepted(*fd, from, (unsigned)port, err)) == 0 &&
	       proc_ms_left(deadline, -1) != 0)
		poll(NULL, 0, ACCEPT_POLL_MS);
	if (r == 1) {
		/* The daemon's requests are small and each waits for its pages: no Nagle. */
		int one = 1;
		(void)setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Blocking from here on, as the tunnel's peer expects nothing else. */
		int fl = fcntl(*fd, F_GETFL);
		if (fl >= 0 && fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
			return 0;
		r = mig_err_set(err, errno, "fcntl");
	}
	close(*fd);
	*fd = -1;
	if (err && *err)
		return -1;
	/* It accepts once and then closes its listener, which resets what else waited. */
	if (r < 0)
		return mig_err_set(err, 0,
				   "CRIU's page server on 127.0.0.1:%d took another connection "
				   "than ours: another local process connected to it first; the "
				   "container's memory may have been read by it",
				   port);
	return mig_err_set(err, 0,
			   "CRIU's page server on 127.0.0.1:%d did not accept our "
			   "connection within %d ms",
			   port, PAGE_SERVER_ACCEPT_MS);
}
