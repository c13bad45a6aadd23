/* Report formatting: the table people read and the JSON line scripts parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report.h"

static void test_fmt_bytes(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(report_fmt_bytes(0, b, sizeof(b)), "0 B");
	assert_string_equal(report_fmt_bytes(1023, b, sizeof(b)), "1023 B");
	assert_string_equal(report_fmt_bytes(1024, b, sizeof(b)), "1.0 KiB");
	assert_string_equal(report_fmt_bytes(1536, b, sizeof(b)), "1.5 KiB");
	assert_string_equal(report_fmt_bytes(5LL << 20, b, sizeof(b)), "5.0 MiB");
	assert_string_equal(report_fmt_bytes(3LL << 30, b, sizeof(b)), "3.0 GiB");
	assert_string_equal(report_fmt_bytes(REPORT_NONE, b, sizeof(b)), "-");
}

static struct mig_report sample(void)
{
	struct mig_report r;
	report_init(&r, "source", "c1", "cold");
	snprintf(r.peer, sizeof(r.peer), "10.0.0.2");
	r.ok = 1;
	r.dump_ms = 310;
	r.dump_bytes = 2 << 20;
	r.xfer_ms = 120;
	r.xfer_bytes = 2100000;
	r.restore_ms = 330;
	r.downtime_ms = 790;
	r.total_ms = 1210;
	return r;
}

static void test_json_fields(void **state)
{
	(void)state;
	struct mig_report r = sample();
	char *s = report_json(&r);
	assert_null(strchr(s, '\n'));
	cJSON *o = cJSON_Parse(s);
	assert_non_null(o);
	static const char *const keys[] = {"container",	  "technique", "ok",	     "dump_ms",
					   "dump_bytes",  "xfer_ms",   "xfer_bytes", "restore_ms",
					   "downtime_ms", "total_ms",  "error",	     "pre_dumps"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(cJSON_GetObjectItemCaseSensitive(o, keys[i]));
	assert_string_equal(cJSON_GetObjectItem(o, "container")->valuestring, "c1");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
	assert_int_equal((int)cJSON_GetObjectItem(o, "downtime_ms")->valuedouble, 790);
	assert_int_equal((int)cJSON_GetObjectItem(o, "xfer_bytes")->valuedouble, 2100000);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "error")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "sync_ms"))); /* not measured */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "pre_dumps")), 0);
	cJSON_Delete(o);
	free(s);
}

static void test_json_failure_and_pre_dumps(void **state)
{
	(void)state;
	struct mig_report r = sample();
	r.n_pre = 2;
	r.pre[0] = (struct report_pre_dump){100, 4096, 20, 5000};
	r.pre[1] = (struct report_pre_dump){50, 1024, 10, 1200};
	report_fail(&r, 3, "transfer failed: \"quoted\"");
	report_fail(&r, 4, "a later consequence");
	char *s = report_json(&r);
	cJSON *o = cJSON_Parse(s);
	assert_non_null(o);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "ok")));
	assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
			    "transfer failed: \"quoted\""); /* the first cause is kept */
	assert_int_equal((int)cJSON_GetObjectItem(o, "exit_code")->valuedouble, 4);
	cJSON *pre = cJSON_GetObjectItem(o, "pre_dumps");
	assert_int_equal(cJSON_GetArraySize(pre), 2);
	assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetArrayItem(pre, 1), "bytes")->valuedouble,
			 1024);
	cJSON_Delete(o);
	free(s);
}

static void test_table(void **state)
{
	(void)state;
	struct mig_report r = sample();
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_print_table(&r, f);
	fclose(f);
	assert_non_null(strstr(buf, "source report: container c1, cold migration to 10.0.0.2: ok"));
	assert_non_null(strstr(buf, "checkpoint"));
	assert_non_null(strstr(buf, "310 ms"));
	assert_non_null(strstr(buf, "2097152 B (2.0 MiB)"));
	assert_non_null(strstr(buf, "downtime"));
	assert_null(strstr(buf, "rootfs pre-sync")); /* not measured: no row */
	assert_null(strstr(buf, "error:"));
	report_fail(&r, 2, "boom");
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_print_table(&r, f);
	fclose(f);
	assert_non_null(strstr(buf, "FAILED"));
	assert_non_null(strstr(buf, "error: boom"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fmt_bytes),
	    cmocka_unit_test(test_json_fields),
	    cmocka_unit_test(test_json_failure_and_pre_dumps),
	    cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
