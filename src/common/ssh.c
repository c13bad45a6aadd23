#include "ssh.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

#include "proc.h"
#include "tunnel.h"
#include "timeouts.h"

/* The longest single wait inside libssh, so that a deadline or a stop is seen. */
#define CHANNEL_SLICE_MS 1000

struct mig_ssh {
	ssh_session session;
	char target[300];
};

struct ssh_chan_conn {
	struct mig_conn base;
	ssh_channel chan;
	ssh_session session;
	char peer[700];
};

static int ssh_fail(struct mig_ssh *s, struct mig_err **err, const char *what)
{
	return mig_err_set(err, 0, "ssh %s: %s: %s", s->target, what, ssh_get_error(s->session));
}

static int verify_host(struct mig_ssh *s, const struct ssh_target *o, struct mig_err **err)
{
	const char *kh = o->known_hosts ? o->known_hosts : "~/.ssh/known_hosts";
	char hint[600];
	snprintf(hint, sizeof(hint), "if the key is right, add it with: ssh-keyscan -p %d %s >> %s",
		 o->port, o->host, kh);
	switch (ssh_session_is_known_server(s->session)) {
	case SSH_KNOWN_HOSTS_OK:
		return 0;
	case SSH_KNOWN_HOSTS_CHANGED:
		return mig_err_set(err, 0,
				   "ssh %s: the host key CHANGED since it was recorded in %s; "
				   "refusing to connect (someone may be intercepting)",
				   s->target, kh);
	case SSH_KNOWN_HOSTS_OTHER:
		return mig_err_set(err, 0,
				   "ssh %s: the host offers a key of another type than the one "
				   "recorded in %s; refusing to connect",
				   s->target, kh);
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		return mig_err_set(err, 0, "ssh %s: host key not known (no entry in %s); %s",
				   s->target, kh, hint);
	default:
		return ssh_fail(s, err, "checking the host key");
	}
}

static int authenticate(struct mig_ssh *s, const struct ssh_target *o, struct mig_err **err)
{
	int rc;
	if (o->identity) {
		ssh_key key = NULL;
		if (ssh_pki_import_privkey_file(o->identity, NULL, NULL, NULL, &key) != SSH_OK)
			return mig_err_set(err, 0,
					   "ssh %s: cannot read private key %s (missing, or "
					   "protected by a passphrase: use ssh-agent instead)",
					   s->target, o->identity);
		rc = ssh_userauth_publickey(s->session, NULL, key);
		ssh_key_free(key);
	} else {
		rc = ssh_userauth_publickey_auto(s->session, NULL, NULL);
	}
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR)
		return ssh_fail(s, err, "authentication");
	return mig_err_set(err, 0,
			   "ssh %s: public key authentication refused (is the key in %s's "
			   "authorized_keys on the destination?)",
			   s->target, o->user);
}

struct mig_ssh *mig_ssh_connect(const struct ssh_target *o, int timeout_ms, struct mig_err **err)
{
	struct mig_ssh *s = mig_xcalloc(1, sizeof(*s));
	snprintf(s->target, sizeof(s->target), "%s@%s:%d", o->user, o->host, o->port);
	s->session = ssh_new();
	if (!s->session) {
		free(s);
		mig_err_set(err, 0, "ssh: cannot create a session");
		return NULL;
	}
	long timeout = timeout_ms >= 1000 ? timeout_ms / 1000 : 1;
	unsigned port = (unsigned)o->port;
	/* No Nagle: the control channel and the streamed image are many small writes, each of
	 * which would otherwise wait for the peer's (delayed) ACK of the one before. */
	int nodelay = 1;
	int ok = ssh_options_set(s->session, SSH_OPTIONS_NODELAY, &nodelay) == 0 &&
		 ssh_options_set(s->session, SSH_OPTIONS_HOST, o->host) == 0 &&
		 ssh_options_set(s->session, SSH_OPTIONS_PORT, &port) == 0 &&
		 ssh_options_set(s->session, SSH_OPTIONS_USER, o->user) == 0 &&
		 ssh_options_set(s->session, SSH_OPTIONS_TIMEOUT, &timeout) == 0 &&
		 (!o->known_hosts ||
		  ssh_options_set(s->session, SSH_OPTIONS_KNOWNHOSTS, o->known_hosts) == 0);
	if (!ok) {
		ssh_fail(s, err, "setting options");
		goto fail;
	}
	if (ssh_connect(s->session) != SSH_OK) {
		ssh_fail(s, err, "connect");
		goto fail;
	}
	if (verify_host(s, o, err) < 0 || authenticate(s, o, err) < 0)
		goto fail;
	return s;
fail:
	mig_ssh_close(s);
	return NULL;
}

static int noop_fd_cb(socket_t fd, int revents, void *userdata)
{
	(void)fd, (void)revents, (void)userdata;
	return 0;
}

/* One slice of waiting on the session while the page tunnel runs (tunnel.h): for the
 * session's socket (libssh handles what arrives, into each channel's buffer) and the
 * tunnel's own descriptors, then the tunnel moves what it can.  Nothing is waited for when
 * ready() already holds or the tunnel just moved something. */
static int tunnel_slice(struct ssh_chan_conn *sc, int slice, int (*ready)(struct ssh_chan_conn *),
			struct mig_err **err)
{
	if (tunnel_pump() || ready(sc))
		return 0;
	struct pollfd p[TUNNEL_MAX_POLLFDS];
	int n = tunnel_pollfds(p), added = 0;
	socket_t sfd = ssh_get_fd(sc->session);
	ssh_event ev = ssh_event_new();
	int r = ev && ssh_event_add_session(ev, sc->session) == SSH_OK
		    ? 0
		    : mig_err_set(err, 0, "ssh: cannot wait for the channel");
	for (int i = 0; r == 0 && i < n; i++)
		if (p[i].fd != sfd &&
		    ssh_event_add_fd(ev, p[i].fd, p[i].events, noop_fd_cb, NULL) == SSH_OK)
			p[added++] = p[i];
	/* A signal makes the poll fail (SSH_ERROR): the caller looks at the stop flag. */
	if (r == 0 && ssh_event_dopoll(ev, slice) == SSH_ERROR &&
	    ssh_get_status(sc->session) & (SSH_CLOSED | SSH_CLOSED_ERROR))
		r = mig_err_set(err, 0, "ssh channel error");
	if (ev) {
		for (int i = 0; i < added; i++)
			ssh_event_remove_fd(ev, p[i].fd);
		ssh_event_remove_session(ev, sc->session);
		ssh_event_free(ev);
	}
	tunnel_pump();
	return r;
}

static int chan_readable(struct ssh_chan_conn *sc)
{
	return ssh_channel_poll(sc->chan, 0) != 0; /* data, its end, or an error */
}

static int chan_has_window(struct ssh_chan_conn *sc)
{
	return ssh_channel_window_size(sc->chan) > 0 || ssh_channel_is_closed(sc->chan);
}

/* chan_read_full while the page tunnel runs: reads without waiting, waits in
 * tunnel_slice. */
static int tunnel_read_full(struct ssh_chan_conn *sc, void *buf, size_t n, long long deadline,
			    struct mig_err **err)
{
	struct mig_conn *c = &sc->base;
	size_t got = 0;
	while (got < n) {
		if (conn_check_stop(c, err) < 0)
			return mig_err_wrap(err, "read from %s", c->peer);
		int r = ssh_channel_read_nonblocking(sc->chan, (char *)buf + got,
						     (uint32_t)(n - got), 0);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == SSH_EOF || ssh_channel_is_closed(sc->chan))
			return mig_err_set_status(err, MIG_CLOSED,
						  "read from %s: connection closed", c->peer);
		if (r == SSH_ERROR)
			return mig_err_set(err, 0, "read from %s: ssh channel error", c->peer);
		int slice = proc_ms_left(deadline, CHANNEL_SLICE_MS);
		if (slice == 0)
			return mig_err_set_status(err, MIG_TIMEOUT, "read from %s: timed out",
						  c->peer);
		if (tunnel_slice(sc, slice, chan_readable, err) < 0)
			return mig_err_wrap(err, "read from %s", c->peer);
	}
	return 0;
}

static int chan_read_full(struct mig_conn *c, void *buf, size_t n, int timeout_ms,
			  struct mig_err **err)
{
	struct ssh_chan_conn *sc = (struct ssh_chan_conn *)c;
	long long deadline = proc_deadline_in(timeout_ms);
	if (tunnel_active())
		return tunnel_read_full(sc, buf, n, deadline, err);
	size_t got = 0;
	while (got < n) {
		/* In slices: libssh's read does not return for a signal. */
		if (conn_check_stop(c, err) < 0)
			return mig_err_wrap(err, "read from %s", c->peer);
		int slice = proc_ms_left(deadline, CHANNEL_SLICE_MS);
		if (slice == 0)
			return mig_err_set_status(err, MIG_TIMEOUT, "read from %s: timed out",
						  c->peer);
		int r = ssh_channel_read_timeout(sc->chan, (char *)buf + got, (uint32_t)(n - got),
						 0, slice);
		if (r == SSH_ERROR)
			return mig_err_set(err, 0, "read from %s: ssh channel error", c->peer);
		if (r == 0 && (ssh_channel_is_eof(sc->chan) || ssh_channel_is_closed(sc->chan)))
			return mig_err_set_status(err, MIG_CLOSED,
						  "read from %s: connection closed", c->peer);
		got += (size_t)(r > 0 ? r : 0);
	}
	return 0;
}

/* Waits, in slices, for the peer to open the channel's window (it reads what we sent):
 * libssh's blocking write would wait for that with no limit. */
static int await_window(struct ssh_chan_conn *sc, long long deadline, struct mig_err **err)
{
	struct mig_conn *c = &sc->base;
	if (ssh_channel_window_size(sc->chan) > 0)
		return 0;
	/* With the page tunnel, tunnel_slice makes its own event: the session can be in one
	 * event only. */
	while (tunnel_active() && ssh_channel_window_size(sc->chan) == 0) {
		int slice = proc_ms_left(deadline, CHANNEL_SLICE_MS);
		if (conn_check_stop(c, err) < 0)
			return -1;
		if (slice == 0)
			return mig_err_set_status(err, MIG_TIMEOUT,
						  "the peer read nothing for %d ms",
						  conn_write_stall_ms(c));
		if (ssh_channel_is_closed(sc->chan))
			return mig_err_set_status(err, MIG_CLOSED, "connection closed");
		if (tunnel_slice(sc, slice, chan_has_window, err) < 0)
			return -1;
	}
	if (ssh_channel_window_size(sc->chan) > 0)
		return 0;
	/* An event handles the session's packets (the window adjustment among them) without
	 * taking the channel's data, which stays for our reads. */
	ssh_event ev = ssh_event_new();
	int r = ev && ssh_event_add_session(ev, sc->session) == SSH_OK
		    ? 0
		    : mig_err_set(err, 0, "ssh: cannot wait for the channel");
	while (r == 0 && ssh_channel_window_size(sc->chan) == 0) {
		int slice = proc_ms_left(deadline, CHANNEL_SLICE_MS);
		if (conn_check_stop(c, err) < 0)
			r = -1;
		else if (slice == 0)
			r = mig_err_set_status(err, MIG_TIMEOUT, "the peer read nothing for %d ms",
					       conn_write_stall_ms(c));
		else if (ssh_channel_is_closed(sc->chan))
			r = mig_err_set_status(err, MIG_CLOSED, "connection closed");
		else if (ssh_event_dopoll(ev, slice) == SSH_ERROR)
			r = mig_err_set(err, 0, "ssh channel error");
	}
	if (ev) {
		ssh_event_remove_session(ev, sc->session);
		ssh_event_free(ev);
	}
	return r;
}

static int chan_write_full(struct mig_conn *c, const void *buf, size_t n, struct mig_err **err)
{
	struct ssh_chan_conn *sc = (struct ssh_chan_conn *)c;
	size_t done = 0;
	while (done < n) {
		if (await_window(sc, proc_deadline_in(conn_write_stall_ms(c)), err) < 0)
			return mig_err_wrap(err, "write to %s", c->peer);
		/* Within the window: libssh sends without waiting for the peer (the socket's own
		 * stall is bounded by the session's timeout). */
		uint32_t room = ssh_channel_window_size(sc->chan);
		size_t want = n - done < room ? n - done : room;
		int r = ssh_channel_write(sc->chan, (const char *)buf + done, (uint32_t)want);
		if (r == SSH_ERROR || r < 0)
			return mig_err_set(err, 0, "write to %s: ssh channel error", c->peer);
		done += (size_t)r;
	}
	return 0;
}

static int chan_alive(struct mig_conn *c)
{
	struct ssh_chan_conn *sc = (struct ssh_chan_conn *)c;
	/* polling processes what the session has received, EOF and close included */
	int r = ssh_channel_poll(sc->chan, 0);
	return !(r == SSH_EOF || r == SSH_ERROR || ssh_channel_is_eof(sc->chan) ||
		 ssh_channel_is_closed(sc->chan));
}

static ssize_t chan_read_some(struct mig_conn *c, void *buf, size_t n, struct mig_err **err)
{
	struct ssh_chan_conn *sc = (struct ssh_chan_conn *)c;
	int r = ssh_channel_read_nonblocking(sc->chan, buf, (uint32_t)n, 0);
	if (r > 0)
		return r;
	if (r == SSH_EOF || (r == 0 && ssh_channel_is_eof(sc->chan)))
		return mig_err_set_status(err, MIG_CLOSED, "read from %s: end of data", c->peer);
	if (r == SSH_ERROR || ssh_channel_is_closed(sc->chan))
		return mig_err_set(err, 0, "read from %s: ssh channel error (%s)", c->peer,
				   ssh_get_error(sc->session));
	return 0;
}

/* Never more than the window: libssh's write would wait for the peer beyond it. */
static ssize_t chan_write_some(struct mig_conn *c, const void *buf, size_t n, struct mig_err **err)
{
	struct ssh_chan_conn *sc = (struct ssh_chan_conn *)c;
	if (ssh_channel_is_closed(sc->chan))
		return mig_err_set(err, 0, "write to %s: the channel is closed", c->peer);
	uint32_t room = ssh_channel_window_size(sc->chan);
	if (room == 0) {
		/* What has arrived may hold the window adjustment: handle it without waiting
		 * (the channels' data stays in their buffers). */
		ssh_event ev = ssh_event_new();
		if (ev && ssh_event_add_session(ev, sc->session) == SSH_OK) {
			(void)ssh_event_dopoll(ev, 0);
			ssh_event_remove_session(ev, sc->session);
		}
		if (ev)
			ssh_event_free(ev);
		room = ssh_channel_window_size(sc->chan);
		if (room == 0)
			return 0;
	}
	size_t want = n < room ? n : room;
	int r = ssh_channel_write(sc->chan, buf, (uint32_t)want);
	if (r < 0)
		return mig_err_set(err, 0, "write to %s: ssh channel error (%s)", c->peer,
				   ssh_get_error(sc->session));
	return r;
}

static void chan_shut_write(struct mig_conn *c)
{
	ssh_channel_send_eof(((struct ssh_chan_conn *)c)->chan);
}

/* The session's socket: the peer's data and its window adjustments both arrive there. */
static int chan_poll_fd(const struct mig_conn *c, int want_read, int want_write, short *events)
{
	(void)want_read, (void)want_write;
	*events = POLLIN;
	return ssh_get_fd(((const struct ssh_chan_conn *)c)->session);
}

static void chan_close(struct mig_conn *c)
{
	struct ssh_chan_conn *sc = (struct ssh_chan_conn *)c;
	if (!sc)
		return;
	ssh_channel_send_eof(sc->chan);
	ssh_channel_close(sc->chan);
	ssh_channel_free(sc->chan);
	free(sc);
}

static struct mig_conn *chan_conn(struct mig_ssh *s, ssh_channel chan, const char *peer)
{
	struct ssh_chan_conn *sc = mig_xcalloc(1, sizeof(*sc));
	sc->chan = chan;
	sc->session = s->session;
	snprintf(sc->peer, sizeof(sc->peer), "%s via ssh %s", peer, s->target);
	sc->base.read_full = chan_read_full;
	sc->base.write_full = chan_write_full;
	sc->base.alive = chan_alive;
	sc->base.close = chan_close;
	sc->base.read_some = chan_read_some;
	sc->base.write_some = chan_write_some;
	sc->base.shut_write = chan_shut_write;
	sc->base.poll_fd = chan_poll_fd;
	sc->base.peer = sc->peer;
	return &sc->base;
}

struct mig_conn *mig_ssh_forward(struct mig_ssh *s, const char *host, int port,
				 struct mig_err **err)
{
	ssh_channel chan = ssh_channel_new(s->session);
	if (!chan) {
		ssh_fail(s, err, "new channel");
		return NULL;
	}
	if (ssh_channel_open_forward(chan, host, port, "127.0.0.1", 0) != SSH_OK) {
		mig_err_set(err, 0,
			    "ssh %s: cannot reach %s:%d through SSH (%s): is migrate-dst "
			    "listening on that port (migrate-dst -p), and does sshd allow TCP "
			    "forwarding?",
			    s->target, host, port, ssh_get_error(s->session));
		ssh_channel_free(chan);
		return NULL;
	}
	char peer[300];
	snprintf(peer, sizeof(peer), "%s:%d", host, port);
	return chan_conn(s, chan, peer);
}

struct mig_conn *mig_ssh_forward_unix(struct mig_ssh *s, const char *path, struct mig_err **err)
{
	ssh_channel chan = ssh_channel_new(s->session);
	if (!chan) {
		ssh_fail(s, err, "new channel");
		return NULL;
	}
	if (ssh_channel_open_forward_unix(chan, path, "127.0.0.1", 0) != SSH_OK) {
		mig_err_set(err, 0,
			    "ssh %s: cannot reach the socket %s through SSH (%s): is migrate-dst "
			    "running there, is the SSH user root (the socket is root's only), and "
			    "does sshd allow stream forwarding (AllowStreamLocalForwarding)?",
			    s->target, path, ssh_get_error(s->session));
		ssh_channel_free(chan);
		return NULL;
	}
	return chan_conn(s, chan, path);
}

int mig_ssh_exec(struct mig_ssh *s, const char *cmd, int timeout_ms, char *out, size_t len,
		 char *errbuf, size_t errlen, int *status, struct mig_err **err)
{
	ssh_channel ch = ssh_channel_new(s->session);
	if (!ch)
		return ssh_fail(s, err, "new channel");
	int r = -1;
	size_t got = 0;
	long long deadline = proc_now_ms() + (timeout_ms > 0 ? timeout_ms : REMOTE_EXEC_MS);
	out[0] = '\0';
	errbuf[0] = '\0';
	*status = -1;
	if (ssh_channel_open_session(ch) != SSH_OK || ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		ssh_fail(s, err, "exec");
		goto out;
	}
	/* stdout until EOF (what does not fit is read and dropped). */
	for (;;) {
		long long left = deadline - proc_now_ms();
		if (left <= 0) {
			mig_err_set(err, 0, "ssh %s: '%s' timed out", s->target, cmd);
			goto out;
		}
		char drop[512];
		char *dst = got + 1 < len ? out + got : drop;
		uint32_t room = got + 1 < len ? (uint32_t)(len - 1 - got) : sizeof(drop);
		int n = ssh_channel_read_timeout(ch, dst, room, 0, left > 1000 ? 1000 : (int)left);
		if (n == SSH_ERROR) {
			ssh_fail(s, err, "read");
			goto out;
		}
		if (n > 0 && dst != drop)
			got += (size_t)n;
		/* Not ssh_channel_is_eof(): it stays false while stderr holds unread data. */
		if (n == 0 && (ssh_channel_poll(ch, 0) == SSH_EOF || ssh_channel_is_closed(ch)))
			break;
	}
	out[got] = '\0';
	int e = ssh_channel_read_timeout(ch, errbuf, (uint32_t)(errlen - 1), 1, 1000);
	errbuf[e > 0 ? e : 0] = '\0';
	for (int i = 0; i < 50 && (*status = ssh_channel_get_exit_status(ch)) < 0; i++)
		ssh_channel_poll_timeout(ch, 100, 0);
	r = 0;
out:
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return r;
}

int mig_ssh_fd(struct mig_ssh *s)
{
	return ssh_get_fd(s->session);
}

void mig_ssh_close(struct mig_ssh *s)
{
	if (!s)
		return;
	if (s->session) {
		ssh_disconnect(s->session);
		ssh_free(s->session);
	}
	free(s);
}

int mig_ssh_read_file(struct mig_ssh *s, const char *path, char *buf, size_t len,
		      struct mig_err **err)
{
	if (strchr(path, '\''))
		return mig_err_set(err, 0, "path %s has a quote; not supported", path);
	char *cmd = mig_strdup_printf("cat -- '%s'", path);
	char e[200];
	int status = -1;
	int r = mig_ssh_exec(s, cmd, REMOTE_EXEC_MS, buf, len, e, sizeof(e), &status, err);
	free(cmd);
	if (r == 0 && status != 0) {
		e[strcspn(e, "\n")] = '\0';
		r = mig_err_set(err, 0, "ssh %s: cat %s failed (status %d)%s%s", s->target, path,
				status, e[0] ? ": " : "", e);
	}
	return r;
}
