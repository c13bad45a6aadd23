/* The control protocol between migrate-src and migrate-dst.
 *
 * A message is a 4-byte big-endian length followed by that many bytes holding one JSON
 * object, at most PROTO_MAX_MSG bytes.  Every message carries "v":2 (PROTO_VERSION) and a string
 * "type". Requests: hello, check, restore, doctor (docs/protocol.md lists their fields).  Every
 * request gets a reply object with "ok" (bool) and, when not ok, "error" (string). */
#ifndef MIG_PROTO_H
#define MIG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "conn.h"
#include "err.h"

#define PROTO_VERSION 2 /* 2: mutual authentication, signed replies (docs/protocol.md) */
#define PROTO_MAX_MSG 65536
/* The largest count a message may carry (2^53: every integer below is exact in JSON). */
#define PROTO_MAX_COUNT 9007199254740992LL

/* Machine-readable reasons in a refusal's "code" (next to its "error" text), for the cases
 * a peer acts on. */
#define PROTO_CODE_UNKNOWN_TYPE "unknown_type" /* an older peer: it does not know the request */

/* Big-endian u32, as the frame length and the stream's block headers are written. */
static inline void be32_put(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static inline uint32_t be32_get(const uint8_t p[4])
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Encodes msg (which must have "v" and "type") into a frame: 4-byte length + JSON text.
 * Returns the malloc'ed frame and its length in *len, or NULL with *err when too large. */
uint8_t *proto_encode(const cJSON *msg, size_t *len, struct mig_err **err);

/* Parses the JSON payload of one frame (without the length prefix) and checks the envelope:
 * an object, "v" == PROTO_VERSION (number), "type" a non-empty string.  Returns the object (caller
 * frees with cJSON_Delete) or NULL with *err saying what is wrong. */
cJSON *proto_decode(const uint8_t *payload, size_t len, struct mig_err **err);

/* Decodes a frame's 4-byte length prefix; fails when it is 0 or over PROTO_MAX_MSG. */
int proto_frame_len(const uint8_t hdr[4], uint32_t *len, struct mig_err **err);

/* Sends one message over c. */
int proto_send(struct mig_conn *c, const cJSON *msg, struct mig_err **err);

/* Receives one message within timeout_ms (<= 0: forever) and decodes it. */
cJSON *proto_recv(struct mig_conn *c, int timeout_ms, struct mig_err **err);

/* The same, with the first byte allowed first_ms and the rest of the frame rest_ms: a
 * server may wait long for the next request but cuts a sender that stalls inside one. */
cJSON *proto_recv_split(struct mig_conn *c, int first_ms, int rest_ms, struct mig_err **err);

/* proto_recv_split, but a MIG_TIMEOUT only when nothing of a frame came: a peer that stalls
 * inside a frame is a plain failure, so that a caller that goes on after a timeout (a
 * heartbeat's wait) never reads from the middle of one. */
cJSON *proto_recv_whole(struct mig_conn *c, int first_ms, int rest_ms, struct mig_err **err);

/* A new message {"v":2,"type":type}. */
cJSON *proto_msg(const char *type);

/* A reply {"v":2,"type":"reply","ok":true} or, with error != NULL, ok false and "error". */
cJSON *proto_reply(const char *error);

/* A refusal with a machine-readable "code" (PROTO_CODE_*) besides its "error". */
cJSON *proto_reply_code(const char *code, const char *error);

/* rep (received, or NULL with *err already set) when its "ok" is true; otherwise NULL, rep
 * freed, and an error carrying the peer's "error" text. */
cJSON *proto_take_reply(cJSON *rep, struct mig_err **err);

/* Sends req and waits for its reply; a reply with "ok": false becomes an error carrying the
 * peer's "error" text.  Returns the reply (caller frees) or NULL. */
cJSON *proto_call(struct mig_conn *c, const cJSON *req, int timeout_ms, struct mig_err **err);

/* Typed field access: the value of key in obj when it has the right type, else NULL/-1 and,
 * with required set, an error "field 'key' missing or not a string". */
const char *proto_get_str(const cJSON *obj, const char *key, int required, struct mig_err **err);
int proto_get_num(const cJSON *obj, const char *key, double *out, int required,
		  struct mig_err **err);
/* A whole number in 0..max (a count, bytes, milliseconds): checked before it is converted,
 * since a peer's 1e300 or -1 cast to an integer would be undefined or wrong. */
int proto_get_count(const cJSON *obj, const char *key, long long max, long long *out, int required,
		    struct mig_err **err);
int proto_get_bool(const cJSON *obj, const char *key, int *out, int required, struct mig_err **err);

#endif
