#include "proto.h"

#include <stdlib.h>
#include <string.h>

uint8_t *proto_encode(const cJSON *msg, size_t *len, struct mig_err **err)
{
	char *text = cJSON_PrintUnformatted(msg);
	if (!text) {
		mig_err_set(err, 0, "cannot encode message");
		return NULL;
	}
	size_t n = strlen(text);
	if (n == 0 || n > PROTO_MAX_MSG) {
		mig_err_set(err, 0, "message of %zu bytes is over the %d-byte limit", n,
			    PROTO_MAX_MSG);
		free(text);
		return NULL;
	}
	uint8_t *frame = mig_xmalloc(n + 4);
	be32_put(frame, (uint32_t)n);
	memcpy(frame + 4, text, n);
	free(text);
	*len = n + 4;
	return frame;
}

int proto_frame_len(const uint8_t hdr[4], uint32_t *len, struct mig_err **err)
{
	uint32_t n = be32_get(hdr);
	if (n == 0)
		return mig_err_set(err, 0, "empty message");
	if (n > PROTO_MAX_MSG)
		return mig_err_set(err, 0, "message length %u is over the %d-byte limit", n,
				   PROTO_MAX_MSG);
	*len = n;
	return 0;
}

/* Members one object of a message may have: far more than any of ours, and a bound on the
 * duplicate check below. */
#define MAX_MEMBERS 512

/* A member name twice in one object (at any depth) is ambiguous: parsers differ on which
 * one counts, and the MAC covers the text, not one reading of it.  The first duplicate's
 * name, or NULL; *many is set when an object has more than MAX_MEMBERS members. */
static const char *duplicate_member(const cJSON *o, int *many)
{
	size_t n = 0;
	for (const cJSON *a = o ? o->child : NULL; a; a = a->next, n++) {
		if (n >= MAX_MEMBERS) {
			*many = 1;
			return NULL;
		}
		if (cJSON_IsObject(o))
			for (const cJSON *b = o->child; b != a; b = b->next)
				if (a->string && b->string && !strcmp(a->string, b->string))
					return a->string;
		const char *d = duplicate_member(a, many);
		if (d || *many)
			return d;
	}
	return NULL;
}

cJSON *proto_decode(const uint8_t *payload, size_t len, struct mig_err **err)
{
	if (len == 0 || len > PROTO_MAX_MSG) {
		mig_err_set(err, 0, "message length %zu out of range", len);
		return NULL;
	}
	/* JSON text has no NUL bytes; cJSON would stop at one and see a shorter message. */
	const uint8_t *nul = memchr(payload, 0, len);
	if (nul) {
		mig_err_set(err, 0, "message has a NUL byte (at byte %td)", nul - payload);
		return NULL;
	}
	/* cJSON_ParseWithLengthOpts stops at the given length, so the payload needs no NUL. */
	const char *end = NULL;
	cJSON *msg = cJSON_ParseWithLengthOpts((const char *)payload, len, &end, 0);
	if (!msg) {
		mig_err_set(err, 0, "message is not valid JSON (at byte %td)",
			    end ? end - (const char *)payload : (ptrdiff_t)0);
		return NULL;
	}
	size_t used = (size_t)(end - (const char *)payload);
	while (used < len && payload[used] && strchr(" \t\r\n", payload[used]))
		used++;
	const char *why = NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, "v");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
	if (used != len)
		why = "trailing bytes after the JSON object";
	else if (!cJSON_IsObject(msg))
		why = "message is not a JSON object";
	else if (!cJSON_IsNumber(v))
		why = "field 'v' missing or not a number";
	else if (v->valuedouble != PROTO_VERSION)
		why = "unsupported protocol version (this side speaks v2: upgrade the other side)";
	else if (!cJSON_IsString(type) || !type->valuestring[0])
		why = "field 'type' missing or not a string";
	int many = 0;
	const char *dup = why ? NULL : duplicate_member(msg, &many);
	if (many)
		why = "an object with more than 512 members";
	if (dup) {
		mig_err_set(err, 0, "member '%.40s' appears twice in one object", dup);
		cJSON_Delete(msg);
		return NULL;
	}
	if (why) {
		mig_err_set(err, 0, "%s", why);
		cJSON_Delete(msg);
		return NULL;
	}
	return msg;
}

int proto_send(struct mig_conn *c, const cJSON *msg, struct mig_err **err)
{
	size_t len = 0;
	uint8_t *frame = proto_encode(msg, &len, err);
	if (!frame)
		return -1;
	int rc = c->write_full(c, frame, len, err);
	free(frame);
	return rc;
}

cJSON *proto_recv_split(struct mig_conn *c, int first_ms, int rest_ms, struct mig_err **err)
{
	uint8_t hdr[4];
	uint32_t n;
	if (c->read_full(c, hdr, 1, first_ms, err) < 0 ||
	    c->read_full(c, hdr + 1, 3, rest_ms, err) < 0 || proto_frame_len(hdr, &n, err) < 0)
		return NULL;
	uint8_t *payload = mig_xmalloc(n);
	cJSON *msg = NULL;
	if (c->read_full(c, payload, n, rest_ms, err) == 0)
		msg = proto_decode(payload, n, err);
	free(payload);
	return msg;
}

cJSON *proto_recv_whole(struct mig_conn *c, int first_ms, int rest_ms, struct mig_err **err)
{
	uint8_t hdr[4];
	uint32_t n;
	if (c->read_full(c, hdr, 1, first_ms, err) < 0)
		return NULL;
	struct mig_err *e = NULL;
	cJSON *msg = NULL;
	if (c->read_full(c, hdr + 1, 3, rest_ms, &e) == 0 && proto_frame_len(hdr, &n, &e) == 0) {
		uint8_t *payload = mig_xmalloc(n);
		if (c->read_full(c, payload, n, rest_ms, &e) == 0)
			msg = proto_decode(payload, n, &e);
		free(payload);
	}
	if (!msg && e && mig_err_status(e) == MIG_TIMEOUT) {
		mig_err_set(err, 0, "the peer stalled inside a message (%s)", mig_err_msg(e));
		mig_err_free(&e);
	} else if (!msg && err && !*err) {
		*err = e;
	} else {
		mig_err_free(&e);
	}
	return msg;
}

cJSON *proto_recv(struct mig_conn *c, int timeout_ms, struct mig_err **err)
{
	return proto_recv_split(c, timeout_ms, timeout_ms, err);
}

cJSON *proto_msg(const char *type)
{
	cJSON *m = cJSON_CreateObject();
	if (!m)
		abort();
	cJSON_AddNumberToObject(m, "v", PROTO_VERSION);
	cJSON_AddStringToObject(m, "type", type);
	return m;
}

cJSON *proto_reply(const char *error)
{
	cJSON *m = proto_msg("reply");
	cJSON_AddBoolToObject(m, "ok", error == NULL);
	if (error)
		cJSON_AddStringToObject(m, "error", error);
	return m;
}

cJSON *proto_reply_code(const char *code, const char *error)
{
	cJSON *m = proto_reply(error ? error : "refused");
	cJSON_AddStringToObject(m, "code", code);
	return m;
}

cJSON *proto_take_reply(cJSON *rep, struct mig_err **err)
{
	if (!rep)
		return NULL;
	int ok = 0;
	if (proto_get_bool(rep, "ok", &ok, 1, err) < 0) {
		cJSON_Delete(rep);
		mig_err_wrap(err, "malformed reply");
		return NULL;
	}
	if (!ok) {
		const char *e = proto_get_str(rep, "error", 0, NULL);
		mig_err_set(err, 0, "%s", e ? e : "request refused without a reason");
		cJSON_Delete(rep);
		return NULL;
	}
	return rep;
}

cJSON *proto_call(struct mig_conn *c, const cJSON *req, int timeout_ms, struct mig_err **err)
{
	if (proto_send(c, req, err) < 0)
		return NULL;
	return proto_take_reply(proto_recv(c, timeout_ms, err), err);
}

const char *proto_get_str(const cJSON *obj, const char *key, int required, struct mig_err **err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsString(it))
		return it->valuestring;
	if (required)
		mig_err_set(err, 0, "field '%s' missing or not a string", key);
	return NULL;
}

int proto_get_num(const cJSON *obj, const char *key, double *out, int required,
		  struct mig_err **err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsNumber(it)) {
		*out = it->valuedouble;
		return 0;
	}
	if (required)
		mig_err_set(err, 0, "field '%s' missing or not a number", key);
	return -1;
}

int proto_get_count(const cJSON *obj, const char *key, long long max, long long *out, int required,
		    struct mig_err **err)
{
	double v;
	if (proto_get_num(obj, key, &v, required, err) < 0)
		return -1;
	/* Comparisons with NaN are false: it fails the first test. */
	if (!(v >= 0) || v > (double)max || v != (double)(long long)v) {
		if (required)
			mig_err_set(err, 0, "field '%s' is not a whole number in 0..%lld", key,
				    max);
		return -1;
	}
	*out = (long long)v;
	return 0;
}

int proto_get_bool(const cJSON *obj, const char *key, int *out, int required, struct mig_err **err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsBool(it)) {
		*out = cJSON_IsTrue(it);
		return 0;
	}
	if (required)
		mig_err_set(err, 0, "field '%s' missing or not a boolean", key);
	return -1;
}
