/* The control session with migrate-dst (see session.h). */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "text.h"
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

cJSON *session_recv(struct ctl_session *s, int timeout_ms, struct mig_err **err)
{
	cJSON *m = proto_recv(s->ctl, timeout_ms, err);
	if (m && s->auth_on && auth_verify(&s->keys, AUTH_REPLY, m, err) < 0) {
		cJSON_Delete(m);
		mig_err_wrap(err, "a message from the destination that does not prove the token");
		return NULL;
	}
	return m;
}

cJSON *session_call(struct ctl_session *s, cJSON *req, int timeout_ms, struct mig_err **err)
{
	if (session_send(s, req, err) < 0)
		return NULL;
	return proto_take_reply(session_recv(s, timeout_ms, err), err);
}

void session_close(struct ctl_session *s)
{
	if (s->ctl)
		s->ctl->close(s->ctl);
	s->ctl = NULL;
	mig_ssh_close(s->ssh);
	s->ssh = NULL;
	free(s->base_dir);
	free(s->dst_version);
	s->base_dir = s->dst_version = NULL;
}
