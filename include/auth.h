/* Authentication of control requests with a shared secret.
 *
 * migrate-dst runs runc as root for whoever reaches its socket or port, and migrate-src hands
 * it a container: each must prove the secret to the other.  hello carries the source's fresh
 * nonce, its reply the destination's; every message after carries "seq" and "mac", the
 * HMAC-SHA256, keyed with the session key (both nonces and the token), of its direction, its
 * number and its compact JSON without "mac".  MACs are compared in constant time. */
#ifndef MIG_AUTH_H
#define MIG_AUTH_H

#include <cjson/cJSON.h>

#include "err.h"

#define AUTH_HEX	   65 /* 32 bytes as hex, and a NUL */
#define DEFAULT_TOKEN_FILE "/etc/migrate-dst/token"

/* Reads the token from path, creating it (0600, random, its directory 0700) when missing.
 * Refuses a token file that is not a regular file owned by us or that others can read. */
int auth_load_or_create(const char *path, char token[AUTH_HEX], struct mig_err **err);

/* Reads an existing token file, with the same checks. */
int auth_read(const char *path, char token[AUTH_HEX], struct mig_err **err);

/* Parses a token from text (as read over SSH): 64 hex digits, surrounding space ignored. */
int auth_parse(const char *text, char token[AUTH_HEX], struct mig_err **err);

/* A fresh random nonce, as hex. */
int auth_nonce(char nonce[AUTH_HEX], struct mig_err **err);

/* The keys of one connection (docs/protocol.md, "Authentication"): both sides derive the
 * session key from the token and both nonces (the source's from its hello, the
 * destination's from its reply), so each proves the token and neither can replay an old
 * connection.  Requests and replies are numbered and MACed separately. */
enum auth_dir { AUTH_REQUEST, AUTH_REPLY };

struct auth_keys {
	char key[AUTH_HEX];    /* HMAC(token, "migrate session v2:CNONCE:SNONCE"), as hex */
	unsigned long req_seq; /* the next request's number: 1, 2, ... */
	unsigned long rep_seq; /* the next reply's: 0 (the hello reply), 1, ... */
};

void auth_session_key(const char *token, const char *cnonce, const char *snonce,
		      char key[AUTH_HEX]);

/* The proof that opens a pages connection (docs/protocol.md, "Pages"): HMAC(session key,
 * "migrate pages v1:NONCE") with the nonce the destination gave in its "pages" reply, so
 * only this session's source can take the connection, and only once. */
void auth_pages_proof(const struct auth_keys *k, const char *nonce, char out[AUTH_HEX]);
/* 1 when proof is that (compared in constant time). */
int auth_pages_check(const struct auth_keys *k, const char *nonce, const char *proof);

/* Adds "seq" (the direction's next number) and "mac" to msg. */
void auth_sign(struct auth_keys *k, enum auth_dir d, cJSON *msg);

/* Checks and removes msg's "mac"; its "seq" must be the direction's next number, which is
 * then advanced. */
int auth_verify(struct auth_keys *k, enum auth_dir d, cJSON *msg, struct mig_err **err);

#endif
