/* The source's control session with migrate-dst, step by step: the SSH connection (unless
 * --direct), the control channel through it (or plain TCP), hello, and the token every later
 * request is signed with.  Each step is separate so that a caller can tell which one failed
 * (migrate-src --check reports them as separate checks). */
#ifndef MIG_SESSION_H
#define MIG_SESSION_H

#include <cjson/cJSON.h>

#include "auth.h"
#include "conn.h"
#include "err.h"
#include "plan.h"
#include "ssh.h"

struct ctl_session {
	const struct plan *p;
	struct mig_ssh *ssh; /* NULL with --direct */
	struct mig_conn *ctl;
	int auth_on; /* the destination authenticates requests */
	char token[AUTH_HEX];
	char nonce[AUTH_HEX];
	unsigned long seq;
	char *base_dir;	   /* the destination's (from hello) */
	char *dst_version; /* migrate-dst's version (from hello), or NULL */
};

void session_init(struct ctl_session *s, const struct plan *p);

/* Connects and authenticates over SSH (host key checked).  Nothing to do with --direct. */
int session_ssh(struct ctl_session *s, struct mig_err **err);

/* Opens the control channel: through the SSH session, or plain TCP with --direct. */
int session_control(struct ctl_session *s, struct mig_err **err);

/* hello; then, when the destination authenticates requests, its token: from --token-file,
 * or read as root over the SSH session. */
int session_hello(struct ctl_session *s, struct mig_err **err);

/* Adds "seq" and "auth" to req when the destination authenticates requests. */
void session_sign(struct ctl_session *s, cJSON *req);

void session_close(struct ctl_session *s);

#endif
