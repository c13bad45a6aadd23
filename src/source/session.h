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
	struct mig_conn *pages; /* post-copy: the pages connection (session_pages), or NULL */
	int auth_on; /* the destination proved the token: every message both ways is MACed */
	int have_token;
	char token[AUTH_HEX];
	char cnonce[AUTH_HEX]; /* ours, in the hello */
	struct auth_keys keys;
	char *base_dir;		/* the destination's (from hello) */
	char *dst_version;	/* migrate-dst's version (from hello), or NULL */
	char *dst_criu_version; /* the destination's CRIU version (from hello), or NULL */
};

void session_init(struct ctl_session *s, const struct plan *p);

/* Connects and authenticates over SSH (host key checked).  Nothing to do with --direct. */
int session_ssh(struct ctl_session *s, struct mig_err **err);

/* Opens the control channel: to migrate-dst's Unix socket or (-p) TCP port through the SSH
 * session, or plain TCP with --direct. */
int session_control(struct ctl_session *s, struct mig_err **err);

/* The token (--token-file, or read as root over SSH from --dst-token-file), then hello with
 * a fresh nonce: the reply must prove the token (auth.h) before anything in it is used; a
 * destination that authenticates nothing is refused unless --insecure. */
int session_hello(struct ctl_session *s, struct mig_err **err);

/* Adds "seq" and "mac" to req when the destination authenticates. */
void session_sign(struct ctl_session *s, cJSON *req);

/* Signs and sends req. */
int session_send(struct ctl_session *s, cJSON *req, struct mig_err **err);

/* The destination's next message within timeout_ms, its MAC checked (replies and lazy_done
 * alike: one numbered sequence). */
cJSON *session_recv(struct ctl_session *s, int timeout_ms, struct mig_err **err);

/* session_recv with the first byte allowed first_ms (>= 1) and the rest of the frame
 * FRAME_REST_MS: a MIG_TIMEOUT then means that nothing of a message was read. */
cJSON *session_recv_split(struct ctl_session *s, int first_ms, struct mig_err **err);

/* session_send, session_recv, and a reply with "ok": false as an error carrying its text. */
cJSON *session_call(struct ctl_session *s, cJSON *req, int timeout_ms, struct mig_err **err);

/* Post-copy, before the freeze: asks the destination for a pages connection for container
 * name (and tells it the lazy phase's silence limit, timeouts.h 8.), opens it the way the control
 * channel was opened (to the Unix socket it names, which must sit beside the control socket, or to
 * the port it names) and proves the session on it (auth_pages_proof).  s->pages then carries CRIU's
 * page-server protocol, raw. */
int session_pages(struct ctl_session *s, const char *name, int silence_ms, struct mig_err **err);

/* Closes the pages connection (first, ending a page tunnel that uses it), the control
 * channel and the SSH session. */
void session_close(struct ctl_session *s);

#endif
