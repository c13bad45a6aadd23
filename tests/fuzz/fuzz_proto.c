/* libFuzzer target for the control-message decoder (src/proto.c).
 *
 * Each input is used three ways:
 *   1. as a frame, like proto_recv: the first 4 bytes go through proto_frame_len and, when
 *      that accepts them, that many bytes of the rest (when the input has them) are copied
 *      into a buffer that ends right before an unreadable page, so an over-read of the
 *      payload faults even inside cJSON (which is not instrumented);
 *   2. the rest (after the 4 bytes), whatever the prefix says, straight to proto_decode;
 *   3. the whole input straight to proto_decode (libFuzzer's copy is exactly sized: ASan
 *      catches over-reads in instrumented code).
 * Whatever decodes goes through the typed getters (the protocol's known fields, and every
 * field of the object under its own name) and is re-encoded with proto_encode: the frame
 * must decode again (an accepted message has to survive the round trip).  Everything is
 * freed; LeakSanitizer reports what is not.
 *
 *   make fuzz FUZZ_SECONDS=60       build build/fuzz/fuzz_proto and run it on a copy of
 *                                   tests/fuzz/corpus
 *   build/fuzz/fuzz_proto CRASHFILE reproduce one input */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "err.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const str_keys[] = {
    "type",	    "name",	    "technique", "error",  "pages_socket", "base_dir",
    "runc_version", "criu_version", "version",	 "bundle", "auth",	   "nonce",
    "mac",	    "proof",	    "",		 "v\xff",
};
static const char *const num_keys[] = {
    "v", "pages_port", "restore_ms", "lazy_ms", "lazy_bytes", "seq", "deadline_ms", "type", "",
};
static const char *const bool_keys[] = {"ok", "lazy", "terminal", "auth", "v", ""};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* A buffer of PROTO_MAX_MSG + 4 readable bytes followed by a PROT_NONE page. */
static uint8_t *guard_buf;
static size_t guard_len;

static void guard_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	guard_len = (PROTO_MAX_MSG + 4 + page - 1) / page * page;
	uint8_t *p = mmap(NULL, guard_len + page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + guard_len, page, PROT_NONE) != 0) {
		perror("fuzz_proto: guard page");
		abort();
	}
	guard_buf = p;
}

/* n bytes of src placed so that the byte after them is unreadable. */
static const uint8_t *guarded_copy(const uint8_t *src, size_t n)
{
	uint8_t *dst = guard_buf + guard_len - n;
	if (n)
		memcpy(dst, src, n);
	return dst;
}

static void check_err(struct mig_err *err)
{
	if (!err || !err->msg) {
		fprintf(stderr, "fuzz_proto: a failure without an error message\n");
		abort();
	}
	/* Touch the whole message (ASan checks the read). */
	volatile size_t n = strlen(mig_err_msg(err));
	(void)n;
}

static void exercise_getters(const cJSON *msg)
{
	struct mig_err *err = NULL;
	double d;
	int b;

	for (size_t i = 0; i < NKEYS(str_keys); i++) {
		const char *s = proto_get_str(msg, str_keys[i], 1, &err);
		if (s) {
			volatile size_t n = strlen(s);
			(void)n;
		} else {
			check_err(err);
		}
		mig_err_free(&err);
		(void)proto_get_str(msg, str_keys[i], 0, NULL);
	}
	for (size_t i = 0; i < NKEYS(num_keys); i++) {
		if (proto_get_num(msg, num_keys[i], &d, 1, &err) < 0)
			check_err(err);
		mig_err_free(&err);
		(void)proto_get_num(msg, num_keys[i], &d, 0, NULL);
	}
	for (size_t i = 0; i < NKEYS(bool_keys); i++) {
		if (proto_get_bool(msg, bool_keys[i], &b, 1, &err) < 0)
			check_err(err);
		else if (b != 0 && b != 1)
			abort();
		mig_err_free(&err);
		(void)proto_get_bool(msg, bool_keys[i], &b, 0, NULL);
	}

	/* Every member under its own (attacker-chosen) name, and the getters on non-objects. */
	const cJSON *it;
	cJSON_ArrayForEach(it, msg)
	{
		const char *key = it->string ? it->string : "";
		if (!proto_get_str(msg, key, 1, &err))
			check_err(err);
		mig_err_free(&err);
		if (proto_get_num(msg, key, &d, 1, &err) < 0)
			check_err(err);
		mig_err_free(&err);
		if (proto_get_bool(msg, key, &b, 1, &err) < 0)
			check_err(err);
		mig_err_free(&err);
		if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
			(void)proto_get_str(it, "type", 0, NULL);
			(void)proto_get_num(it, "v", &d, 0, NULL);
			(void)proto_get_bool(it, "ok", &b, 0, NULL);
		}
	}
}

/* The MAC check on every shape a peer can send (seq as 1e300, -1, NaN, a string; mac of any
 * type and length): it must refuse without reading out of bounds, both directions, and
 * leave the message as a plain object. */
static void exercise_auth(const cJSON *msg)
{
	static const char key[] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	for (int d = 0; d < 2; d++) {
		struct auth_keys k = {.req_seq = 1, .rep_seq = 0};
		memcpy(k.key, key, sizeof(key));
		cJSON *copy = cJSON_Duplicate(msg, 1);
		struct mig_err *err = NULL;
		if (auth_verify(&k, d ? AUTH_REPLY : AUTH_REQUEST, copy, &err) < 0)
			check_err(err);
		mig_err_free(&err);
		/* and what we sign, we accept */
		cJSON *signed_msg = cJSON_Duplicate(msg, 1);
		struct auth_keys a = k, b = k;
		auth_sign(&a, d ? AUTH_REPLY : AUTH_REQUEST, signed_msg);
		if (auth_verify(&b, d ? AUTH_REPLY : AUTH_REQUEST, signed_msg, &err) < 0) {
			fprintf(stderr, "fuzz_proto: a signed message does not verify: %s\n",
				mig_err_msg(err));
			abort();
		}
		cJSON_Delete(signed_msg);
		cJSON_Delete(copy);
	}
}

/* An accepted message, encoded again, must give a frame that decodes. */
static void round_trip(const cJSON *msg)
{
	struct mig_err *err = NULL;
	size_t len = 0;
	uint8_t *frame = proto_encode(msg, &len, &err);
	if (!frame) {
		/* Printing may legitimately grow a message past the limit (escapes). */
		check_err(err);
		mig_err_free(&err);
		return;
	}
	uint32_t n = 0;
	if (len < 4 || proto_frame_len(frame, &n, &err) < 0 || n != len - 4) {
		fprintf(stderr, "fuzz_proto: proto_encode made a bad frame (%zu bytes): %s\n", len,
			mig_err_msg(err));
		abort();
	}
	cJSON *again = proto_decode(guarded_copy(frame + 4, n), n, &err);
	if (!again) {
		fprintf(stderr, "fuzz_proto: re-encoded message does not decode: %s\n%.*s\n",
			mig_err_msg(err), (int)n, (const char *)frame + 4);
		abort();
	}
	cJSON_Delete(again);
	free(frame);
}

static void decode_one(const uint8_t *payload, size_t len)
{
	struct mig_err *err = NULL;
	cJSON *msg = proto_decode(payload, len, &err);
	if (msg) {
		if (err) {
			fprintf(stderr, "fuzz_proto: proto_decode succeeded and set an error\n");
			abort();
		}
		exercise_getters(msg);
		if (cJSON_IsObject(msg))
			exercise_auth(msg);
		round_trip(msg);
		cJSON_Delete(msg);
	} else {
		check_err(err);
		mig_err_wrap(&err, "fuzz");
		check_err(err);
	}
	mig_err_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!guard_buf)
		guard_init();

	if (size >= 4) {
		struct mig_err *err = NULL;
		uint32_t n = 0;
		if (proto_frame_len(data, &n, &err) == 0) {
			if (err || n == 0 || n > PROTO_MAX_MSG)
				abort();
			/* proto_recv would wait for n bytes; decode them when the input has them.
			 */
			if (n <= size - 4)
				decode_one(guarded_copy(data + 4, n), n);
		} else {
			check_err(err);
		}
		mig_err_free(&err);
		/* The rest as one payload, whatever the prefix said (also over the limit). */
		size_t rest = size - 4;
		decode_one(rest <= guard_len ? guarded_copy(data + 4, rest) : data + 4, rest);
	}
	decode_one(data, size);
	return 0;
}
