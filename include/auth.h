/* Authentication of control requests with a shared secret.
 *
 * migrate-dst runs runc as root for whoever talks to its port, and even a loopback port is
 * open to every local user.  So every request but hello must prove the secret: hello
 * returns a fresh nonce, and each later request carries "seq" (1, 2, ... on that connection,
 * so a request cannot be replayed) and "auth", the HMAC-SHA256, keyed with the token, of the
 * nonce, the sequence number and the request itself (its compact JSON without "auth").
 * Macs are compared in constant time. */
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

/* Adds "seq" and "auth" to req. */
void auth_sign(cJSON *req, const char *token, const char *nonce, unsigned long seq);

/* Checks and removes req's "auth"; its "seq" must be *next_seq, which is then advanced. */
int auth_verify(cJSON *req, const char *token, const char *nonce, unsigned long *next_seq,
		struct mig_err **err);

#endif
