/* The control session with migrate-dst (see session.h). */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "text.h"
#include "tunnel.h"
#include "timeouts.h"

void session_init(struct ctl_session *s, const struct plan *p)
{
	memset(s, 0, sizeof(*s));
	s->p = p;
}

int session_ssh(struct ctl_session *s, struct mig_err **err)
{
	if (s->p->where.direct)
		return 0;
	s->ssh = mig_ssh_connect(&s->p->where.ssh, SESSION_MS, err);
	return s->ssh ? 0 : -1;
}

int session_control(struct ctl_session *s, struct mig_err **err)
{
	const struct plan *p = s->p;
	if (p->where.direct)
		s->ctl =
		    conn_tcp_connect(p->where.ssh.host, p->where.control_port, SESSION_MS, err);
	else if (!s->ssh)
		mig_err_set(err, 0, "no SSH session to carry the control channel");
	else if (p->where.use_port)
		s->ctl = mig_ssh_forward(s->ssh, "127.0.0.1", p->where.control_port, err);
	else
		s->ctl = mig_ssh_forward_unix(s->ssh, p->where.socket, err);
	return s->ctl ? 0 : mig_err_wrap(err, "control channel");
}

/* The token, before anything is sent: from --token-file, or read as root over SSH from
 * --dst-token-file (never from a path the peer names).  0 with have_token unset when there
 * is none and --insecure allows that. */
static int get_token(struct ctl_session *s, struct mig_err **err)
{
	const struct plan *p = s->p;
	if (p->where.token_file) {
		if (auth_read(p->where.token_file, s->token, err) < 0)
			return -1;
		s->have_token = 1;
		return 0;
	}
	if (!s->ssh) {
		if (p->where.insecure)
			return 0;
		return mig_err_set(err, 0,
				   "with --direct give --token-file (a copy of %s:%s, mode 0600)",
				   p->where.ssh.host, p->where.dst_token_file);
	}
	char buf[256];
	if (mig_ssh_read_file(s->ssh, p->where.dst_token_file, buf, sizeof(buf), err) < 0 ||
	    auth_parse(buf, s->token, err) < 0) {
		if (p->where.insecure) { /* the destination may have no token at all */
			mig_err_free(err);
			return 0;
		}
		return mig_err_wrap(err, "reading the destination's token %s (--dst-token-file)",
				    p->where.dst_token_file);
	}
	s->have_token = 1;
	return 0;
}

/* A hello reply's authentication: the destination proves the token (its MAC over our fresh
 * nonce) before anything it says is used; "auth": false only when we were told to accept
 * it. */
static int check_hello_auth(struct ctl_session *s, cJSON *rep, struct mig_err **err)
{
	int auth = 1;
	if (proto_get_bool(rep, "auth", &auth, 1, err) < 0)
		return -1;
	if (!auth) {
		if (!s->p->where.insecure)
			return mig_err_set(err, 0,
					   "the destination authenticates nothing (migrate-dst "
					   "--insecure, or something else answers there): refusing "
					   "it; give --insecure to migrate-src too if you mean it");
		return 0;
	}
	if (!s->have_token)
		return mig_err_set(err, 0,
				   "the destination authenticates requests but there is no token "
				   "(give --token-file or --dst-token-file)");
	const char *sn = proto_get_str(rep, "nonce", 0, NULL);
	if (!sn || strlen(sn) != AUTH_HEX - 1 || strspn(sn, "0123456789abcdef") != AUTH_HEX - 1)
		return mig_err_set(err, 0, "no valid nonce");
	auth_session_key(s->token, s->cnonce, sn, s->keys.key);
	s->keys.req_seq = 1;
	s->keys.rep_seq = 0;
	if (auth_verify(&s->keys, AUTH_REPLY, rep, err) < 0)
		return mig_err_wrap(err,
				    "the destination did not prove it knows the token (another "
				    "token, or something else answers on %s)",
				    s->p->where.use_port ? "the control port"
							 : "the control socket");
	s->auth_on = 1;
	return 0;
}

/* What the verified hello reply tells: the destination's base dir and version. */
static int take_hello(struct ctl_session *s, const cJSON *rep, struct mig_err **err)
{
	const char *base = proto_get_str(rep, "base_dir", 1, err);
	if (!base)
		return -1;
	/* It becomes rsync's remote path and the bundle's path on the destination. */
	if (!text_valid_abs_path(base))
		return mig_err_set(err, 0,
				   "the destination's base dir '%.200s' is not a plain absolute "
				   "path ([A-Za-z0-9._/+-], normalized): refusing it",
				   base);
	s->base_dir = mig_xstrdup(base);
	const char *version = proto_get_str(rep, "version", 0, NULL);
	if (version)
		s->dst_version = mig_xstrdup(version);
	const char *criu = proto_get_str(rep, "criu_version", 0, NULL);
	if (criu && strlen(criu) < 64 && strspn(criu, "0123456789.") == strlen(criu))
		s->dst_criu_version = mig_xstrdup(criu);
	return 0;
}

int session_hello(struct ctl_session *s, struct mig_err **err)
{
	if (get_token(s, err) < 0 || auth_nonce(s->cnonce, err) < 0)
		return -1;
	cJSON *req = proto_msg("hello");
	cJSON_AddStringToObject(req, "nonce", s->cnonce);
	cJSON *rep = proto_call(s->ctl, req, SESSION_MS, err);
	cJSON_Delete(req);
	int r = !rep || check_hello_auth(s, rep, err) < 0 || take_hello(s, rep, err) < 0 ? -1 : 0;
	cJSON_Delete(rep);
	return r < 0 ? mig_err_wrap(err, "hello to the destination") : 0;
}

void session_sign(struct ctl_session *s, cJSON *req)
{
	if (s->auth_on)
		auth_sign(&s->keys, AUTH_REQUEST, req);
}

int session_send(struct ctl_session *s, cJSON *req, struct mig_err **err)
{
	session_sign(s, req);
	return proto_send(s->ctl, req, err);
}

static cJSON *verified(struct ctl_session *s, cJSON *m, struct mig_err **err)
{
	if (m && s->auth_on && auth_verify(&s->keys, AUTH_REPLY, m, err) < 0) {
		cJSON_Delete(m);
		mig_err_wrap(err, "a message from the destination that does not prove the token");
		return NULL;
	}
	return m;
}

cJSON *session_recv_split(struct ctl_session *s, int first_ms, struct mig_err **err)
{
	return verified(
	    s, proto_recv_whole(s->ctl, first_ms > 0 ? first_ms : 1, FRAME_REST_MS, err), err);
}

cJSON *session_recv(struct ctl_session *s, int timeout_ms, struct mig_err **err)
{
	return verified(s, proto_recv(s->ctl, timeout_ms, err), err);
}

cJSON *session_call(struct ctl_session *s, cJSON *req, int timeout_ms, struct mig_err **err)
{
	if (session_send(s, req, err) < 0)
		return NULL;
	return proto_take_reply(session_recv(s, timeout_ms, err), err);
}

/* The destination's pages endpoint from its reply: a socket file beside our control socket
 * (pages-HEX.sock), or a port.  Anything else is refused: the peer does not get to name a
 * path on its host for our SSH session to connect to. */
static struct mig_conn *open_pages_endpoint(struct ctl_session *s, const cJSON *rep,
					    struct mig_err **err)
{
	const struct plan *p = s->p;
	const char *path = proto_get_str(rep, "pages_socket", 0, NULL);
	long long port = 0;
	if (!path && proto_get_count(rep, "pages_port", 65535, &port, 1, err) < 0)
		return NULL;
	if (path) {
		const char *slash = strrchr(p->where.socket, '/');
		size_t dir = slash ? (size_t)(slash - p->where.socket) + 1 : 0;
		const char *name = path + dir;
		if (p->where.direct || p->where.use_port || strncmp(path, p->where.socket, dir) ||
		    strncmp(name, "pages-", 6) || strlen(name) != 6 + 16 + 5 ||
		    strspn(name + 6, "0123456789abcdef") != 16 || strcmp(name + 22, ".sock")) {
			mig_err_set(err, 0,
				    "the destination's pages socket '%.200s' is not one "
				    "beside its control socket: refusing it",
				    path);
			return NULL;
		}
		return mig_ssh_forward_unix(s->ssh, path, err);
	}
	if (port < 1) {
		mig_err_set(err, 0, "the destination's pages port is out of range");
		return NULL;
	}
	if (p->where.direct)
		return conn_tcp_connect(p->where.ssh.host, (int)port, SESSION_MS, err);
	if (!p->where.use_port) {
		mig_err_set(err, 0,
			    "the destination offers a TCP pages port on a Unix control socket");
		return NULL;
	}
	return mig_ssh_forward(s->ssh, "127.0.0.1", (int)port, err);
}

/* The first message on the pages connection, and its answer. */
static int pages_hello(struct ctl_session *s, const char *name, const char *nonce,
		       struct mig_err **err)
{
	cJSON *m = proto_msg("pages_hello");
	cJSON_AddStringToObject(m, "name", name);
	if (s->auth_on) {
		char proof[AUTH_HEX];
		auth_pages_proof(&s->keys, nonce, proof);
		cJSON_AddStringToObject(m, "proof", proof);
	}
	cJSON *rep = proto_call(s->pages, m, SESSION_MS, err);
	cJSON_Delete(m);
	cJSON_Delete(rep);
	return rep ? 0 : -1;
}

int session_pages(struct ctl_session *s, const char *name, int silence_ms, struct mig_err **err)
{
	cJSON *req = proto_msg("pages");
	cJSON_AddStringToObject(req, "name", name);
	cJSON_AddNumberToObject(req, "silence_ms", silence_ms);
	cJSON *rep = session_call(s, req, CONTROL_REPLY_MS, err);
	cJSON_Delete(req);
	if (!rep)
		return mig_err_wrap(err, "pages connection");
	const char *nonce = proto_get_str(rep, "nonce", 1, err);
	int r = -1;
	if (nonce && strlen(nonce) == AUTH_HEX - 1 &&
	    strspn(nonce, "0123456789abcdef") == AUTH_HEX - 1) {
		s->pages = open_pages_endpoint(s, rep, err);
		r = s->pages ? pages_hello(s, name, nonce, err) : -1;
	} else if (nonce) {
		mig_err_set(err, 0, "no valid nonce");
	}
	cJSON_Delete(rep);
	return r < 0 ? mig_err_wrap(err, "pages connection") : 0;
}

void session_close(struct ctl_session *s)
{
	if (s->pages) {
		tunnel_forget(s->pages);
		s->pages->close(s->pages);
		s->pages = NULL;
	}
	if (s->ctl)
		s->ctl->close(s->ctl);
	s->ctl = NULL;
	mig_ssh_close(s->ssh);
	s->ssh = NULL;
	free(s->base_dir);
	free(s->dst_version);
	free(s->dst_criu_version);
	s->base_dir = s->dst_version = s->dst_criu_version = NULL;
}
