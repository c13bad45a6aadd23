/* The page tunnel (tunnel.h). */
#include "tunnel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "timeouts.h"

/* One buffer per direction: the page server writes in pieces of up to 4 MiB (CRIU's
 * largest background chunk), and the SSH window is about 2 MiB; 256 KiB keeps the copies
 * cheap and the memory small. */
#define TUNNEL_BUF (256 * 1024)
/* Rounds of moving per tunnel_pump call, so that one busy direction cannot keep the
 * caller (the control channel's wait) from its own work. */
#define PUMP_ROUNDS 16
/* How long one round of tunnel_run waits when nothing moves. */
#define RUN_SLICE_MS 500

struct half {
	char *buf;
	size_t len, off; /* bytes held, and how many of them went out */
	int eof;	 /* the sending side closed its half */
	int shut;	 /* and we passed that on */
	int ours;	 /* what is held is the tunnel's own answer to the goodbye */
};

/* The tunnel's answer to the daemon's goodbye (tunnel.h): CRIU's page server answers a
 * close request with a 32-bit status, 0 (criu/page-xfer.c, page_server_serve). */
enum answer { ANSWER_NONE, ANSWER_DUE, ANSWER_QUEUED, ANSWER_OUT };
#define ANSWER_BYTES 4

struct tunnel {
	int local;
	struct mig_conn *remote;
	struct half up;	  /* local -> remote */
	struct half down; /* remote -> local */
	const struct tunnel_watch *watch;
	struct mig_err *err; /* the failure, until someone takes it */
	int failed;
	int held; /* the destination ended (after a goodbye, or without one we could know of):
		     held as it is for the owner */
	enum answer answer;
	int late; /* the page server still had bytes for the daemon after its goodbye: a daemon
		     that had every page has none outstanding, so that goodbye followed a failure */
	long long down_in; /* bytes read from the destination so far */
	int pumping;
	struct tunnel_stats st;
};

static struct tunnel *tun;

int tunnel_start(int local, struct mig_conn *remote, const struct tunnel_watch *watch,
		 struct mig_err **err)
{
	if (tun) {
		close(local);
		return mig_err_set(err, 0, "a page tunnel already runs");
	}
	/* Every close of the page server's connection is a reset unless a graceful end clears
	 * this first (linger_off): one by the kernel, when migrate-src crashes or is killed,
	 * would otherwise be an end, which CRIU's page server takes for a finished transfer
	 * (tunnel.h). */
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	if (setsockopt(local, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0) {
		int e = errno;
		close(local);
		return mig_err_set(err, e, "page tunnel: SO_LINGER");
	}
	tun = mig_xcalloc(1, sizeof(*tun));
	tun->local = local;
	tun->remote = remote;
	tun->watch = watch;
	tun->up.buf = mig_xcalloc(1, TUNNEL_BUF);
	tun->down.buf = mig_xcalloc(1, TUNNEL_BUF);
	return 0;
}

int tunnel_active(void)
{
	return tun != NULL;
}

int tunnel_done(void)
{
	return !tun || tun->failed || tun->held || (tun->up.shut && tun->down.shut);
}

static int goodbye_seen(void)
{
	return tun->watch && tun->watch->said_goodbye(tun->watch->ctx);
}

/* Closes the page server's socket with a reset (tunnel_start set SO_LINGER 0): its next
 * read fails (tunnel.h). */
static void reset_local(void)
{
	if (tun->local < 0)
		return;
	close(tun->local);
	tun->local = -1;
}

/* The next close is an end, not a reset. */
static void linger_off(void)
{
	struct linger l = {.l_onoff = 0, .l_linger = 0};
	(void)setsockopt(tun->local, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* The page server has bytes we have not read. */
static int local_pending(void)
{
	char c;
	return tun->local >= 0 && recv(tun->local, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* The first failure ends the tunnel.  The page server's connection is held as it is until
 * the owner decides (tunnel_stop): a break now would make CRIU resume the container here
 * while the destination may still hold its copy, an end would make it kill it while the
 * destination may have none. */
static void fail(struct mig_err **e, const char *what)
{
	mig_err_wrap(e, "page tunnel: %s", what);
	tun->err = *e;
	tun->failed = 1;
	*e = NULL;
}

/* How much of down.buf may go to the page server: what the watch lets pass of it. */
static size_t down_passable(void)
{
	struct half *h = &tun->down;
	if (!tun->watch)
		return h->len;
	long long first = tun->down_in - (long long)h->len; /* the stream's offset of buf[0] */
	long long n = tun->watch->passable(tun->watch->ctx) - first;
	return n < (long long)h->off ? h->off : n > (long long)h->len ? h->len : (size_t)n;
}

/* The goodbye's answer, in the page server's place, once its own bytes went out; none
 * once the page server ended its half (nothing may follow that end). */
static int queue_answer(struct half *h)
{
	if (h->off < h->len || h->eof)
		return 0;
	memset(h->buf, 0, ANSWER_BYTES);
	h->off = 0;
	h->len = ANSWER_BYTES;
	h->ours = 1;
	tun->answer = ANSWER_QUEUED;
	return 1;
}

/* From the page server: into up.buf, when it is empty.  Nothing after the daemon's
 * goodbye: the page server has not seen it and has nothing more to say. */
static int read_local(void)
{
	struct half *h = &tun->up;
	if (tun->answer == ANSWER_DUE)
		return queue_answer(h);
	if (tun->answer != ANSWER_NONE || h->eof || h->off < h->len)
		return 0;
	ssize_t n = recv(tun->local, h->buf, TUNNEL_BUF, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0) {
		struct mig_err *e = NULL;
		mig_err_set(&e, errno, "reading from the page server");
		fail(&e, "source side");
		return 0;
	}
	h->off = 0;
	h->len = (size_t)n;
	h->eof = n == 0;
	return 1;
}

static int write_remote(void)
{
	struct half *h = &tun->up;
	int moved = 0;
	if (h->off < h->len) {
		struct mig_err *e = NULL;
		ssize_t n =
		    tun->remote->write_some(tun->remote, h->buf + h->off, h->len - h->off, &e);
		if (n < 0) {
			fail(&e, "to the destination");
			return 0;
		}
		h->off += (size_t)n;
		if (!h->ours)
			tun->st.to_remote += n;
		else if (h->off == h->len)
			tun->answer = ANSWER_OUT, h->ours = 0;
		moved = n > 0;
	}
	if (h->eof && h->off == h->len && !h->shut) {
		tun->remote->shut_write(tun->remote);
		h->shut = moved = 1;
	}
	return moved;
}

/* From the destination: into down.buf once what may pass of it went out; what waits (a
 * record not known yet, the goodbye: at most one record) moves to the front. */
static int read_remote(void)
{
	struct half *h = &tun->down;
	if (h->eof || h->off < down_passable())
		return 0;
	memmove(h->buf, h->buf + h->off, h->len - h->off);
	h->len -= h->off;
	h->off = 0;
	if (h->len == TUNNEL_BUF) { /* held back: not CRIU's protocol (pageserver.h) */
		struct mig_err *e = NULL;
		mig_err_set(&e, 0, "the destination sent %d bytes the page server may not get",
			    TUNNEL_BUF);
		fail(&e, "from the destination");
		return 0;
	}
	struct mig_err *e = NULL;
	ssize_t n = tun->remote->read_some(tun->remote, h->buf + h->len, TUNNEL_BUF - h->len, &e);
	if (n < 0 && mig_err_status(e) == MIG_CLOSED) {
		mig_err_free(&e);
		h->eof = 1;
		return 1;
	}
	if (n < 0) {
		fail(&e, "from the destination");
		return 0;
	}
	if (n > 0 && tun->watch)
		tun->watch->observe(tun->watch->ctx, h->buf + h->len, (size_t)n);
	h->len += (size_t)n;
	tun->down_in += n;
	if (tun->answer == ANSWER_NONE && goodbye_seen()) {
		tun->answer = ANSWER_DUE;
		tun->late = tun->up.off < tun->up.len || local_pending();
	}
	return n > 0;
}

static int write_local(void)
{
	struct half *h = &tun->down;
	size_t lim = down_passable();
	int moved = 0;
	if (h->off < lim) {
		ssize_t n =
		    send(tun->local, h->buf + h->off, lim - h->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			struct mig_err *e = NULL;
			mig_err_set(&e, errno, "writing to the page server");
			fail(&e, "source side");
			return 0;
		}
		if (n > 0) {
			h->off += (size_t)n;
			tun->st.to_local += n;
			moved = 1;
		}
	}
	if (h->eof && h->off == down_passable() && !h->shut) {
		/* After the goodbye, or not knowing, the end is held for the owner to decide
		 * (tunnel.h); without the peer's goodbye it is a break. */
		if (tun->watch && (goodbye_seen() || !tun->watch->watching(tun->watch->ctx))) {
			tun->held = 1; /* done: nothing more moves */
			return 1;
		}
		if (tun->watch && !goodbye_seen()) {
			struct mig_err *e = NULL;
			mig_err_set_status(&e, MIG_CLOSED,
					   "the destination's lazy-pages daemon went away before "
					   "it had every page");
			fail(&e, "from the destination");
			return 0;
		}
		(void)shutdown(tun->local, SHUT_WR);
		h->shut = moved = 1;
	}
	return moved;
}

int tunnel_pump(void)
{
	if (!tun || tun->failed || tun->held || tun->pumping)
		return 0;
	tun->pumping = 1; /* a remote's write may wait inside libssh: no pump from there */
	int any = 0;
	for (int i = 0; i < PUMP_ROUNDS && !tun->failed; i++) {
		int moved = read_remote();
		if (!tun->failed)
			moved |= write_local();
		if (!tun->failed)
			moved |= read_local();
		if (!tun->failed)
			moved |= write_remote();
		if (!moved)
			break;
		any = 1;
	}
	tun->pumping = 0;
	return any;
}

int tunnel_pollfds(struct pollfd *p)
{
	if (tunnel_done())
		return 0;
	int n = 0;
	short ev = 0;
	if (tun->answer == ANSWER_NONE && !tun->up.eof && tun->up.off == tun->up.len)
		ev |= POLLIN;
	if (tun->down.off < down_passable())
		ev |= POLLOUT;
	if (ev)
		p[n++] = (struct pollfd){.fd = tun->local, .events = ev};
	int want_read = !tun->down.eof && tun->down.off == down_passable();
	int want_write = tun->up.off < tun->up.len;
	if (want_read || want_write) {
		short rev = 0;
		int fd = tun->remote->poll_fd(tun->remote, want_read, want_write, &rev);
		if (fd >= 0)
			p[n++] = (struct pollfd){.fd = fd, .events = rev};
	}
	return n;
}

int tunnel_run(long long deadline, struct mig_err **err)
{
	while (!tunnel_done()) {
		if (tunnel_pump())
			continue;
		int left = proc_ms_left(deadline, RUN_SLICE_MS);
		if (left == 0)
			return mig_err_set_status(
			    err, MIG_TIMEOUT,
			    "page tunnel: the pages did not all go through in "
			    "time");
		struct pollfd p[TUNNEL_MAX_POLLFDS];
		int n = tunnel_pollfds(p);
		/* nothing to watch (no descriptor from the remote): a short sleep, not a spin */
		if (poll(n > 0 ? p : NULL, (nfds_t)n, n > 0 ? left : (left < 10 ? left : 10)) < 0 &&
		    errno != EINTR)
			return mig_err_set(err, errno, "page tunnel: poll");
	}
	if (tun && tun->failed) {
		if (tun->err) {
			mig_err_set_status(err, mig_err_status(tun->err), "%s",
					   mig_err_msg(tun->err));
		} else {
			mig_err_set(err, 0, "page tunnel: failed");
		}
		return -1;
	}
	return 0;
}

void tunnel_forget(const struct mig_conn *remote)
{
	if (!tun || tun->remote != remote)
		return;
	if (!tun->failed && !tunnel_done()) {
		struct mig_err *e = NULL;
		mig_err_set_status(&e, MIG_CLOSED, "the pages connection was closed");
		fail(&e, "to the destination");
	}
	tun->remote = NULL;
	tun->failed = 1;
}

int tunnel_goodbye(void)
{
	if (!tun || !goodbye_seen() || tun->answer != ANSWER_OUT || !tun->down.eof)
		return 0;
	tun->late |= local_pending();
	return !tun->late;
}

/* Waits for fd's events until the deadline; 0 when they came. */
static int await_local(short events, long long deadline)
{
	struct pollfd p = {.fd = tun->local, .events = events};
	int left;
	while ((left = proc_ms_left(deadline, -1)) != 0) {
		int r = poll(&p, 1, left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
	return -1;
}

/* The daemon's goodbye, held until now, to the page server, and then our end: CRIU's page
 * server answers it and waits for that end.  What it still sends (its answer, and bytes
 * for the daemon after a failed one's goodbye) is read until its own end, so that our
 * close is an end and not a reset (unread bytes). */
static int hand_over_goodbye(struct mig_err **err)
{
	struct half *h = &tun->down;
	long long deadline = proc_deadline_in(PAGE_SERVER_ANSWER_MS);
	while (h->off < h->len) {
		ssize_t n =
		    send(tun->local, h->buf + h->off, h->len - h->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			h->off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return mig_err_set(err, errno,
					   "page tunnel: the goodbye to the page server");
		else if (await_local(POLLOUT, deadline) < 0)
			return mig_err_set(err, ETIMEDOUT,
					   "page tunnel: the goodbye to the page "
					   "server");
	}
	linger_off();
	(void)shutdown(tun->local, SHUT_WR);
	char buf[4096];
	for (;;) {
		ssize_t n = recv(tun->local, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return mig_err_set(err, errno, "page tunnel: the page server's answer");
		/* the deadline also bounds a page server that keeps sending */
		if ((n > 0 && proc_ms_left(deadline, -1) == 0) ||
		    (n < 0 && await_local(POLLIN, deadline) < 0))
			return mig_err_set(err, ETIMEDOUT,
					   "page tunnel: the page server did not end within %d ms "
					   "of the goodbye",
					   PAGE_SERVER_ANSWER_MS);
	}
}

void tunnel_stop(struct tunnel_stats *st, struct mig_err **err, int brk)
{
	if (!tun)
		return;
	if (st)
		*st = tun->st;
	if (brk)
		reset_local();
	else if (tun->local >= 0) {
		/* the destination keeps its copy: an end either way, never a reset */
		if (goodbye_seen())
			(void)hand_over_goodbye(&tun->err);
		linger_off();
	}
	if (err && tun->err) {
		*err = tun->err;
		tun->err = NULL;
	}
	mig_err_free(&tun->err);
	if (tun->local >= 0)
		close(tun->local);
	free(tun->up.buf);
	free(tun->down.buf);
	free(tun);
	tun = NULL;
}
