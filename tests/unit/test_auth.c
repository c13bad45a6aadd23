/* The control channel's authentication (auth.h): both sides derive the same session key
 * from the token and both nonces, each direction is numbered on its own, and a replayed,
 * reordered, altered, misdirected or foreign message is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "proto.h"

static const char token[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char other[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/* A pair of ends of one connection: the source's and the destination's keys. */
static void pair(struct auth_keys *src, struct auth_keys *dst, const char *dst_token)
{
	char cn[AUTH_HEX], sn[AUTH_HEX];
	assert_int_equal(auth_nonce(cn, NULL), 0);
	assert_int_equal(auth_nonce(sn, NULL), 0);
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	auth_session_key(token, cn, sn, src->key);
	auth_session_key(dst_token, cn, sn, dst->key);
	src->req_seq = dst->req_seq = 1;
	src->rep_seq = dst->rep_seq = 0;
}

static cJSON *msg(const char *type)
{
	cJSON *m = proto_msg(type);
	cJSON_AddStringToObject(m, "name", "c1");
	return m;
}

static void expect_refused(struct auth_keys *k, enum auth_dir d, cJSON *m, const char *why)
{
	struct mig_err *e = NULL;
	assert_int_equal(auth_verify(k, d, m, &e), -1);
	if (!strstr(mig_err_msg(e), why))
		fail_msg("'%s' does not say '%s'", mig_err_msg(e), why);
	mig_err_free(&e);
}

static void test_both_ways(void **state)
{
	(void)state;
	struct auth_keys s, d;
	pair(&s, &d, token);
	assert_string_equal(s.key, d.key);
	struct mig_err *e = NULL;
	/* the hello reply is reply 0, then requests 1, 2 and replies 1, 2 interleave */
	cJSON *hello = msg("reply");
	auth_sign(&d, AUTH_REPLY, hello);
	assert_int_equal(auth_verify(&s, AUTH_REPLY, hello, &e), 0);
	assert_null(cJSON_GetObjectItem(hello, "mac"));
	for (int i = 0; i < 2; i++) {
		cJSON *req = msg("check"), *rep = msg("reply");
		auth_sign(&s, AUTH_REQUEST, req);
		assert_int_equal(auth_verify(&d, AUTH_REQUEST, req, &e), 0);
		auth_sign(&d, AUTH_REPLY, rep);
		assert_int_equal(auth_verify(&s, AUTH_REPLY, rep, &e), 0);
		cJSON_Delete(req);
		cJSON_Delete(rep);
	}
	assert_int_equal(s.req_seq, 3);
	assert_int_equal(d.rep_seq, 3);
	cJSON_Delete(hello);
}

static void test_refusals(void **state)
{
	(void)state;
	struct auth_keys s, d;
	pair(&s, &d, token);
	/* altered after signing */
	cJSON *req = msg("check");
	auth_sign(&s, AUTH_REQUEST, req);
	cJSON *copy = cJSON_Duplicate(req, 1);
	cJSON_ReplaceItemInObject(req, "name", cJSON_CreateString("c2"));
	expect_refused(&d, AUTH_REQUEST, req, "wrong token");
	cJSON_Delete(req);
	/* the untouched copy passes; then its replay does not */
	cJSON *again = cJSON_Duplicate(copy, 1);
	assert_int_equal(auth_verify(&d, AUTH_REQUEST, copy, NULL), 0);
	expect_refused(&d, AUTH_REQUEST, again, "replayed");
	cJSON_Delete(copy);
	cJSON_Delete(again);
	/* a request sent back as a reply: the directions have their own MACs */
	pair(&s, &d, token);
	s.req_seq = 0; /* so that only the direction differs */
	req = msg("reply");
	auth_sign(&s, AUTH_REQUEST, req);
	expect_refused(&s, AUTH_REPLY, req, "wrong token");
	cJSON_Delete(req);
	/* unsigned, and signed with another token (a squatter that guesses) */
	pair(&s, &d, other);
	req = msg("check");
	expect_refused(&d, AUTH_REQUEST, req, "'seq' and 'mac'");
	auth_sign(&s, AUTH_REQUEST, req);
	expect_refused(&d, AUTH_REQUEST, req, "wrong token");
	cJSON_Delete(req);
	/* a reply of an earlier connection (other nonces) does not verify in this one */
	struct auth_keys s2, d2;
	pair(&s, &d, token);
	pair(&s2, &d2, token);
	assert_string_not_equal(s.key, s2.key);
	cJSON *rep = msg("reply");
	auth_sign(&d, AUTH_REPLY, rep);
	expect_refused(&s2, AUTH_REPLY, rep, "wrong token");
	cJSON_Delete(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_ways),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
