/* The page tunnel (tunnel.h). */
#include "tunnel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"

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
};

struct tunnel {
	int local;
	struct mig_conn *remote;
	struct half up;	  /* local -> remote */
	struct half down; /* remote -> local */
	const struct tunnel_watch *watch;
	struct mig_err *err; /* the failure, until someone takes it */
	int failed;
	int held; /* the destination ended without a goodbye we could know of: held as it is */
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

/* Closes the page server's socket with a reset: its next read fails (tunnel.h). */
static void reset_local(void)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	if (tun->local < 0)
		return;
	(void)setsockopt(tun->local, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(tun->local);
	tun->local = -1;
}

/* The first failure ends the tunnel.  After the goodbye the page server's connection ends
 * at once (its transfer is complete); before it, it is held as it is until the owner
 * decides (tunnel_stop): a break now would make CRIU resume the container here while the
 * destination may still hold its copy. */
static void fail(struct mig_err **e, const char *what)
{
	mig_err_wrap(e, "page tunnel: %s", what);
	tun->err = *e;
	tun->failed = 1;
	*e = NULL;
	if (goodbye_seen() && tun->local >= 0) {
		close(tun->local);
		tun->local = -1;
	}
}

/* From the page server: into up.buf, when it is empty. */
static int read_local(void)
{
	struct half *h = &tun->up;
	if (h->eof || h->off < h->len)
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
		tun->st.to_remote += n;
		moved = n > 0;
	}
	if (h->eof && h->off == h->len && !h->shut) {
		tun->remote->shut_write(tun->remote);
		h->shut = moved = 1;
	}
	return moved;
}

/* From the destination: into down.buf, when it is empty. */
static int read_remote(void)
{
	struct half *h = &tun->down;
	if (h->eof || h->off < h->len)
		return 0;
	struct mig_err *e = NULL;
	ssize_t n = tun->remote->read_some(tun->remote, h->buf, TUNNEL_BUF, &e);
	if (n < 0 && mig_err_status(e) == MIG_CLOSED) {
		mig_err_free(&e);
		h->eof = 1;
		h->off = h->len = 0;
		return 1;
	}
	if (n < 0) {
		fail(&e, "from the destination");
		return 0;
	}
	h->off = 0;
	h->len = (size_t)n;
	if (n > 0 && tun->watch)
		tun->watch->observe(tun->watch->ctx, h->buf, (size_t)n);
	return n > 0;
}

static int write_local(void)
{
	struct half *h = &tun->down;
	int moved = 0;
	if (h->off < h->len) {
		ssize_t n =
		    send(tun->local, h->buf + h->off, h->len - h->off, MSG_DONTWAIT | MSG_NOSIGNAL);
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
	if (h->eof && h->off == h->len && !h->shut) {
		/* Without the peer's goodbye its end is a break (tunnel.h); not knowing, it is
		 * held for the owner to decide. */
		if (tun->watch && !goodbye_seen() && !tun->watch->watching(tun->watch->ctx)) {
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
	if (!tun->up.eof && tun->up.off == tun->up.len)
		ev |= POLLIN;
	if (tun->down.off < tun->down.len)
		ev |= POLLOUT;
	if (ev)
		p[n++] = (struct pollfd){.fd = tun->local, .events = ev};
	int want_read = !tun->down.eof && tun->down.off == tun->down.len;
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
	return tun && goodbye_seen();
}

void tunnel_stop(struct tunnel_stats *st, struct mig_err **err, int brk)
{
	if (!tun)
		return;
	if (st)
		*st = tun->st;
	if (err && tun->err) {
		*err = tun->err;
		tun->err = NULL;
	}
	mig_err_free(&tun->err);
	if (brk && !goodbye_seen())
		reset_local();
	if (tun->local >= 0)
		close(tun->local);
	free(tun->up.buf);
	free(tun->down.buf);
	free(tun);
	tun = NULL;
}
