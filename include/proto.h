/* The control protocol between migrate-src and migrate-dst.
 *
 * A message is a 4-byte big-endian length followed by that many bytes holding one JSON
 * object, at most PROTO_MAX_MSG bytes.  Every message carries "v":1 and a string "type".
 * Requests: hello, check, restore, doctor (docs/protocol.md lists their fields).  Every request
 * gets a reply object with "ok" (bool) and, when not ok, "error" (string). */
#ifndef MIG_PROTO_H
#define MIG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "conn.h"
#include "err.h"

#define PROTO_VERSION 1
#define PROTO_MAX_MSG 65536

/* Encodes msg (which must have "v" and "type") into a frame: 4-byte length + JSON text.
 * Returns the malloc'ed frame and its length in *len, or NULL with *err when too large. */
uint8_t *proto_encode(const cJSON *msg, size_t *len, struct mig_err **err);

/* Parses the JSON payload of one frame (without the length prefix) and checks the envelope:
 * an object, "v" == 1 (number), "type" a non-empty string.  Returns the object (caller
 * frees with cJSON_Delete) or NULL with *err saying what is wrong. */
cJSON *proto_decode(const uint8_t *payload, size_t len, struct mig_err **err);

/* Decodes a frame's 4-byte length prefix; fails when it is 0 or over PROTO_MAX_MSG. */
int proto_frame_len(const uint8_t hdr[4], uint32_t *len, struct mig_err **err);

/* Sends one message over c. */
int proto_send(struct mig_conn *c, const cJSON *msg, struct mig_err **err);

/* Receives one message within timeout_ms (<= 0: forever) and decodes it. */
cJSON *proto_recv(struct mig_conn *c, int timeout_ms, struct mig_err **err);

/* A new message {"v":1,"type":type}. */
cJSON *proto_msg(const char *type);

/* A reply {"v":1,"type":"reply","ok":true} or, with error != NULL, ok false and "error". */
cJSON *proto_reply(const char *error);

/* Sends req and waits for its reply; a reply with "ok": false becomes an error carrying the
 * peer's "error" text.  Returns the reply (caller frees) or NULL. */
cJSON *proto_call(struct mig_conn *c, const cJSON *req, int timeout_ms, struct mig_err **err);

/* Typed field access: the value of key in obj when it has the right type, else NULL/-1 and,
 * with required set, an error "field 'key' missing or not a string". */
const char *proto_get_str(const cJSON *obj, const char *key, int required, struct mig_err **err);
int proto_get_num(const cJSON *obj, const char *key, double *out, int required,
		  struct mig_err **err);
int proto_get_bool(const cJSON *obj, const char *key, int *out, int required, struct mig_err **err);

#endif
