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
	else if (s->ssh)
		s->ctl = mig_ssh_forward(s->ssh, "127.0.0.1", p->where.control_port, err);
	else
		mig_err_set(err, 0, "no SSH session to carry the control channel");
	return s->ctl ? 0 : mig_err_wrap(err, "control channel");
}

static int get_token(struct ctl_session *s, const char *path, struct mig_err **err)
{
	const struct plan *p = s->p;
	if (p->where.token_file)
		return auth_read(p->where.token_file, s->token, err);
	if (!s->ssh)
		return mig_err_set(err, 0,
				   "the destination authenticates requests: with --direct give "
				   "--token-file (a copy of %s:%s, mode 0600)",
				   p->where.ssh.host, path ? path : "its token file");
	if (!path)
		return mig_err_set(err, 0, "the destination did not say where its token is");
	char buf[256];
	if (mig_ssh_read_file(s->ssh, path, buf, sizeof(buf), err) < 0 ||
	    auth_parse(buf, s->token, err) < 0)
		return mig_err_wrap(err, "reading the destination's token %s", path);
	return 0;
}

int session_hello(struct ctl_session *s, struct mig_err **err)
{
	cJSON *req = proto_msg("hello");
	cJSON *rep = proto_call(s->ctl, req, SESSION_MS, err);
	cJSON_Delete(req);
	if (!rep)
		return mig_err_wrap(err, "hello to the destination");
	const char *base = proto_get_str(rep, "base_dir", 1, err);
	const char *version = proto_get_str(rep, "version", 0, NULL);
	const char *nonce = proto_get_str(rep, "nonce", 0, NULL);
	proto_get_bool(rep, "auth", &s->auth_on, 0, NULL);
	int r = base ? 0 : mig_err_wrap(err, "hello reply");
	/* It becomes rsync's remote path and the bundle's path on the destination. */
	if (base && !text_valid_abs_path(base)) {
		r = mig_err_set(err, 0,
				"hello reply: the destination's base dir '%.200s' is not a plain "
				"absolute path ([A-Za-z0-9._/+-], normalized): refusing it",
				base);
		base = NULL;
	}
	if (base)
		s->base_dir = mig_xstrdup(base);
	if (version)
		s->dst_version = mig_xstrdup(version);
	if (r == 0 && s->auth_on) {
		if (!nonce || strlen(nonce) != AUTH_HEX - 1)
			r = mig_err_set(err, 0, "hello reply: no valid nonce");
		else
			snprintf(s->nonce, sizeof(s->nonce), "%s", nonce);
		if (r == 0)
			r = get_token(s, proto_get_str(rep, "token_file", 0, NULL), err);
	}
	cJSON_Delete(rep);
	return r;
}

void session_sign(struct ctl_session *s, cJSON *req)
{
	if (s->auth_on)
		auth_sign(req, s->token, s->nonce, ++s->seq);
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
