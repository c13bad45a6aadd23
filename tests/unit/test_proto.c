/* Framing and JSON envelope of the control protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

static cJSON *decode_str(const char *s, struct mig_err **err)
{
	return proto_decode((const uint8_t *)s, strlen(s), err);
}

static void test_encode_decode_roundtrip(void **state)
{
	(void)state;
	cJSON *m = proto_msg("hello");
	cJSON_AddStringToObject(m, "name", "c1");
	size_t len = 0;
	struct mig_err *err = NULL;
	uint8_t *f = proto_encode(m, &len, &err);
	assert_non_null(f);
	uint32_t n = 0;
	assert_int_equal(proto_frame_len(f, &n, &err), 0);
	assert_int_equal(n + 4, len);
	cJSON *back = proto_decode(f + 4, n, &err);
	assert_non_null(back);
	assert_string_equal(proto_get_str(back, "type", 1, &err), "hello");
	assert_string_equal(proto_get_str(back, "name", 1, &err), "c1");
	cJSON_Delete(back);
	cJSON_Delete(m);
	free(f);
}

static void test_frame_len_big_endian(void **state)
{
	(void)state;
	uint8_t hdr[4] = {0x00, 0x01, 0x00, 0x00};
	uint32_t n = 0;
	struct mig_err *err = NULL;
	assert_int_equal(proto_frame_len(hdr, &n, &err), 0);
	assert_int_equal(n, 65536);
}

static void test_frame_len_over_limit(void **state)
{
	(void)state;
	uint8_t hdr[4] = {0x00, 0x01, 0x00, 0x01};
	uint32_t n = 0;
	struct mig_err *err = NULL;
	assert_int_equal(proto_frame_len(hdr, &n, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "over the 65536-byte limit"));
	mig_err_free(&err);
	uint8_t zero[4] = {0, 0, 0, 0};
	assert_int_equal(proto_frame_len(zero, &n, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "empty"));
	mig_err_free(&err);
}

static void test_encode_oversize_refused(void **state)
{
	(void)state;
	cJSON *m = proto_msg("hello");
	char *big = malloc(PROTO_MAX_MSG + 1);
	memset(big, 'a', PROTO_MAX_MSG);
	big[PROTO_MAX_MSG] = '\0';
	cJSON_AddStringToObject(m, "pad", big);
	size_t len = 0;
	struct mig_err *err = NULL;
	assert_null(proto_encode(m, &len, &err));
	assert_non_null(strstr(mig_err_msg(err), "limit"));
	mig_err_free(&err);
	cJSON_Delete(m);
	free(big);
}

static void expect_decode_error(const char *payload, const char *needle)
{
	struct mig_err *err = NULL;
	cJSON *m = decode_str(payload, &err);
	assert_null(m);
	assert_non_null(err);
	if (!strstr(mig_err_msg(err), needle))
		fail_msg("'%s': error '%s' lacks '%s'", payload, mig_err_msg(err), needle);
	mig_err_free(&err);
}

static void test_decode_rejects_bad_envelopes(void **state)
{
	(void)state;
	expect_decode_error("not json", "not valid JSON");
	expect_decode_error("{\"v\":2,\"type\":\"hello\"", "not valid JSON"); /* truncated */
	expect_decode_error("[1,2]", "not a JSON object");
	expect_decode_error("\"hello\"", "not a JSON object");
	expect_decode_error("{\"type\":\"hello\"}", "'v'");
	expect_decode_error("{\"v\":\"1\",\"type\":\"hello\"}", "'v'");
	expect_decode_error("{\"v\":1,\"type\":\"hello\"}", "version");
	expect_decode_error("{\"v\":2}", "'type'");
	expect_decode_error("{\"v\":2,\"type\":7}", "'type'");
	expect_decode_error("{\"v\":2,\"type\":\"\"}", "'type'");
	expect_decode_error("{\"v\":2,\"type\":\"hello\"} xx", "trailing");
	/* a name twice (found by the fuzzer: the MAC covers the text, not one reading of it) */
	expect_decode_error("{\"v\":2,\"type\":\"check\",\"seq\":1,\"name\":\"c1\",\"seq\":2}",
			    "'seq' appears twice");
	expect_decode_error("{\"v\":2,\"type\":\"restore\",\"stream\":{\"files\":1,\"files\":2}}",
			    "'files' appears twice");
	expect_decode_error("{\"v\":2,\"type\":\"x\",\"a\":[{\"k\":1,\"k\":1}]}",
			    "'k' appears twice");
	char big[16384];
	size_t n = (size_t)sprintf(big, "{\"v\":2,\"type\":\"x\"");
	for (int i = 0; i < 600; i++)
		n += (size_t)sprintf(big + n, ",\"m%d\":0", i);
	sprintf(big + n, "}");
	expect_decode_error(big, "more than 512 members");
}

/* A NUL anywhere (trailing, or inside a string where cJSON would cut the text short) is
 * refused, not read as whitespace or as the end of the message. */
static void test_decode_rejects_nul_bytes(void **state)
{
	(void)state;
	static const char tail[] = "{\"v\":2,\"type\":\"hello\"}\0\0";
	static const char inner[] = "{\"v\":2,\"type\":\"hel\0lo\"}";
	const char *cases[] = {tail, inner};
	size_t lens[] = {sizeof(tail) - 1, sizeof(inner) - 1};
	for (size_t i = 0; i < 2; i++) {
		struct mig_err *err = NULL;
		cJSON *m = proto_decode((const uint8_t *)cases[i], lens[i], &err);
		assert_null(m);
		assert_non_null(strstr(mig_err_msg(err), "NUL byte"));
		mig_err_free(&err);
	}
}

static void test_decode_accepts_whitespace_tail(void **state)
{
	(void)state;
	struct mig_err *err = NULL;
	cJSON *m = decode_str("{\"v\":2,\"type\":\"hello\"}\n", &err);
	assert_non_null(m);
	cJSON_Delete(m);
}

static void test_decode_deep_nesting_does_not_crash(void **state)
{
	(void)state;
	size_t depth = 5000;
	char *s = malloc(depth * 2 + 64);
	size_t n = 0;
	n += (size_t)sprintf(s, "{\"v\":2,\"type\":\"x\",\"a\":");
	for (size_t i = 0; i < depth; i++)
		s[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		s[n++] = ']';
	s[n++] = '}';
	struct mig_err *err = NULL;
	cJSON *m = proto_decode((uint8_t *)s, n, &err);
	assert_null(m); /* cJSON's nesting limit (1000) refuses it */
	mig_err_free(&err);
	free(s);
}

static void test_typed_getters(void **state)
{
	(void)state;
	struct mig_err *err = NULL;
	cJSON *m = decode_str("{\"v\":2,\"type\":\"t\",\"s\":\"x\",\"n\":5,\"b\":true}", &err);
	assert_non_null(m);
	double d = 0;
	int b = 0;
	assert_int_equal(proto_get_num(m, "n", &d, 1, &err), 0);
	assert_true(d == 5);
	assert_int_equal(proto_get_bool(m, "b", &b, 1, &err), 0);
	assert_int_equal(b, 1);
	assert_null(proto_get_str(m, "n", 1, &err)); /* wrong type */
	assert_non_null(strstr(mig_err_msg(err), "'n' missing or not a string"));
	mig_err_free(&err);
	assert_int_equal(proto_get_num(m, "s", &d, 1, &err), -1);
	mig_err_free(&err);
	assert_int_equal(proto_get_bool(m, "missing", &b, 0, &err), -1);
	assert_null(err); /* optional: no error */
	cJSON_Delete(m);
}

/* alive(): unread data is not a hang-up; the peer closing is. */
/* Numbers from a peer: checked before they are converted (1e300, -1, 1.5, NaN-like strings,
 * huge exponents), never cast blindly. */
static void test_counts_range_checked(void **state)
{
	(void)state;
	struct mig_err *e = NULL;
	cJSON *o = cJSON_Parse("{\"a\":1e300,\"b\":-1,\"c\":1.5,\"d\":\"NaN\",\"e\":1e999,"
			       "\"f\":42,\"g\":9007199254740992,\"h\":-0}");
	assert_non_null(o);
	long long v = 7;
	const char *bad[] = {"a", "b", "c", "d", "e", "missing"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(proto_get_count(o, bad[i], PROTO_MAX_COUNT, &v, 1, &e), -1);
		assert_non_null(e);
		mig_err_free(&e);
		assert_int_equal(proto_get_count(o, bad[i], PROTO_MAX_COUNT, &v, 0, &e), -1);
		assert_null(e);
	}
	assert_int_equal(v, 7); /* untouched */
	assert_int_equal(proto_get_count(o, "f", 100, &v, 1, &e), 0);
	assert_int_equal(v, 42);
	assert_int_equal(proto_get_count(o, "f", 41, &v, 1, &e), -1);
	mig_err_free(&e);
	assert_int_equal(proto_get_count(o, "g", PROTO_MAX_COUNT, &v, 1, &e), 0);
	assert_int_equal(v, PROTO_MAX_COUNT);
	assert_int_equal(proto_get_count(o, "h", 10, &v, 1, &e), 0);
	assert_int_equal(v, 0);
	cJSON_Delete(o);
}

static void test_conn_alive(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct mig_conn *a = conn_from_fd(sv[0], "a");
	assert_int_equal(a->alive(a), 1);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(a->alive(a), 1);
	close(sv[1]);
	assert_int_equal(a->alive(a), 0);
	a->close(a);
}

/* proto_send/proto_recv/proto_call over a socketpair. */
static void test_send_recv_and_call(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct mig_conn *a = conn_from_fd(sv[0], "a"), *b = conn_from_fd(sv[1], "b");
	struct mig_err *err = NULL;
	/* Pre-load the reply so proto_call finds it without a second thread. */
	cJSON *rep = proto_reply("no such bundle");
	assert_int_equal(proto_send(b, rep, &err), 0);
	cJSON_Delete(rep);
	cJSON *req = proto_msg("check");
	assert_null(proto_call(a, req, 1000, &err));
	assert_string_equal(mig_err_msg(err), "no such bundle");
	mig_err_free(&err);
	cJSON *got = proto_recv(b, 1000, &err);
	assert_non_null(got);
	assert_string_equal(proto_get_str(got, "type", 1, &err), "check");
	cJSON_Delete(got);
	cJSON_Delete(req);
	/* A reply without "ok" is malformed. */
	cJSON *bad = proto_msg("reply");
	assert_int_equal(proto_send(b, bad, &err), 0);
	req = proto_msg("hello");
	assert_null(proto_call(a, req, 1000, &err));
	assert_non_null(strstr(mig_err_msg(err), "malformed reply"));
	mig_err_free(&err);
	cJSON_Delete(bad);
	cJSON_Delete(req);
	/* Timeout on silence. */
	assert_null(proto_recv(a, 100, &err));
	assert_non_null(strstr(mig_err_msg(err), "timed out"));
	mig_err_free(&err);
	/* Peer closes mid-frame: truncated message. */
	assert_int_equal(write(sv[1], "\0\0\0\x10{\"v\":", 9), 9);
	b->close(b);
	assert_null(proto_recv(a, 1000, &err));
	if (!strstr(mig_err_msg(err), "connection closed"))
		fail_msg("got: %s", mig_err_msg(err));
	mig_err_free(&err);
	a->close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_decode_roundtrip),
	    cmocka_unit_test(test_frame_len_big_endian),
	    cmocka_unit_test(test_frame_len_over_limit),
	    cmocka_unit_test(test_encode_oversize_refused),
	    cmocka_unit_test(test_decode_rejects_bad_envelopes),
	    cmocka_unit_test(test_decode_rejects_nul_bytes),
	    cmocka_unit_test(test_decode_accepts_whitespace_tail),
	    cmocka_unit_test(test_decode_deep_nesting_does_not_crash),
	    cmocka_unit_test(test_typed_getters),
	    cmocka_unit_test(test_send_recv_and_call),
	    cmocka_unit_test(test_conn_alive),
	    cmocka_unit_test(test_counts_range_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
