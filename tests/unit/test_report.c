/* Report formatting: the table people read, the JSON line and the CSV rows scripts parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

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
	static const char *const keys[] = {
	    "container",     "technique",	"ok",
	    "dump_ms",	     "dump_bytes",	"xfer_ms",
	    "xfer_bytes",    "restore_ms",	"downtime_ms",
	    "total_ms",	     "error",		"pre_dumps",
	    "run",	     "started",		"frozen_ms",
	    "freezing_ms",   "memdump_ms",	"memwrite_ms",
	    "pages_scanned", "pages_written",	"pages_skipped_parent",
	    "pages_lazy",    "criu_restore_ms", "forking_ms",
	    "pages_restored"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(cJSON_GetObjectItemCaseSensitive(o, keys[i]));
	assert_string_equal(cJSON_GetObjectItem(o, "container")->valuestring, "c1");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
	assert_int_equal((int)cJSON_GetObjectItem(o, "downtime_ms")->valuedouble, 790);
	assert_int_equal((int)cJSON_GetObjectItem(o, "xfer_bytes")->valuedouble, 2100000);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "error")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "sync_ms"))); /* not measured */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "pre_dumps")), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "frozen_ms"))); /* no CRIU stats added */
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "pages_restored")));
	assert_int_equal((int)cJSON_GetObjectItem(o, "run")->valuedouble, 0);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "started")));
	cJSON_Delete(o);
	free(s);
}

/* CRIU's numbers of the real cold run in tests/unit/data/criu-4.1.1-cold (test_stats.c). */
static struct criu_dump_stats cold_dump(void)
{
	return (struct criu_dump_stats){.present = 1,
					.freezing_us = 101198,
					.frozen_us = 80856,
					.memdump_us = 1032,
					.memwrite_us = 201,
					.irmap_resolve_us = 0,
					.pages_scanned = 49,
					.pages_skipped_parent = 0,
					.pages_written = 35,
					.pages_lazy = 0};
}

static struct criu_restore_stats cold_restore(void)
{
	return (struct criu_restore_stats){.present = 1,
					   .pages_compared = 9,
					   .pages_skipped_cow = 2,
					   .forking_us = 420,
					   .restore_us = 132573,
					   .pages_restored = 33};
}

static void test_json_criu_stats(void **state)
{
	(void)state;
	struct mig_report r = sample();
	struct criu_dump_stats d = cold_dump();
	struct criu_restore_stats rs = cold_restore();
	report_add_dump_stats(&r, &d);
	report_add_restore_stats(&r, &rs);
	char *s = report_json(&r);
	cJSON *o = cJSON_Parse(s);
	assert_non_null(o);
	/* Microseconds become milliseconds with all three decimals kept. */
	assert_non_null(strstr(s, "\"frozen_ms\":80.856,"));
	assert_non_null(strstr(s, "\"memwrite_ms\":0.201,"));
	assert_float_equal(cJSON_GetObjectItem(o, "frozen_ms")->valuedouble, 80.856, 1e-9);
	assert_float_equal(cJSON_GetObjectItem(o, "freezing_ms")->valuedouble, 101.198, 1e-9);
	assert_float_equal(cJSON_GetObjectItem(o, "memdump_ms")->valuedouble, 1.032, 1e-9);
	assert_float_equal(cJSON_GetObjectItem(o, "criu_restore_ms")->valuedouble, 132.573, 1e-9);
	assert_float_equal(cJSON_GetObjectItem(o, "forking_ms")->valuedouble, 0.42, 1e-9);
	assert_int_equal((int)cJSON_GetObjectItem(o, "pages_scanned")->valuedouble, 49);
	assert_int_equal((int)cJSON_GetObjectItem(o, "pages_written")->valuedouble, 35);
	assert_int_equal((int)cJSON_GetObjectItem(o, "pages_skipped_parent")->valuedouble, 0);
	assert_int_equal((int)cJSON_GetObjectItem(o, "pages_lazy")->valuedouble, 0);
	assert_int_equal((int)cJSON_GetObjectItem(o, "pages_restored")->valuedouble, 33);
	cJSON_Delete(o);
	free(s);
}

/* CRIU 4.1.1's statistics of a lazy dump (all counters 0, frozen time = the wall clock)
 * and a file without a restore entry are left out: null, not CRIU's garbage. */
static void test_criu_stats_left_out(void **state)
{
	(void)state;
	struct mig_report r = sample();
	struct criu_dump_stats d = {.present = 1,
				    .freezing_us = 0,
				    .frozen_us = 1951281253,
				    .memdump_us = 0,
				    .memwrite_us = 0,
				    .pages_scanned = 0,
				    .pages_skipped_parent = 0,
				    .pages_written = 0,
				    .pages_lazy = 0};
	struct criu_restore_stats rs = cold_restore();
	rs.present = 0;
	report_add_dump_stats(&r, &d);
	report_add_restore_stats(&r, &rs);
	report_add_dump_stats(&r, NULL);
	report_add_restore_stats(&r, NULL);
	char *s = report_json(&r);
	cJSON *o = cJSON_Parse(s);
	const char *keys[] = {
	    "frozen_ms",       "freezing_ms",	"memdump_ms",		"memwrite_ms",
	    "pages_scanned",   "pages_written", "pages_skipped_parent", "pages_lazy",
	    "criu_restore_ms", "forking_ms",	"pages_restored"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, keys[i])));
	cJSON_Delete(o);
	free(s);
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_print_table(&r, f);
	fclose(f);
	assert_null(strstr(buf, "CRIU"));
}

static void test_started(void **state)
{
	(void)state;
	struct mig_report r = sample();
	report_set_started(&r, (time_t)1795660923);
	assert_string_equal(r.started, "2026-11-26T02:42:03Z");
	report_set_started(&r, 0);
	assert_string_equal(r.started, "1970-01-01T00:00:00Z");
	/* report_init stamps the current time. */
	time_t before = time(NULL);
	report_init(&r, "source", "c1", "cold");
	struct tm tm = {0};
	assert_non_null(strptime(r.started, "%Y-%m-%dT%H:%M:%SZ", &tm));
	time_t t = timegm(&tm);
	assert_true(t >= before && t <= time(NULL));
	/* Not known: null in JSON (unlike peer, which stays ""). */
	r.started[0] = '\0';
	char *s = report_json(&r);
	cJSON *o = cJSON_Parse(s);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "started")));
	assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "peer")));
	cJSON_Delete(o);
	free(s);
}

/* ---- CSV ------------------------------------------------------------------------------ */

#define MAX_CELLS 64

/* Parses one RFC 4180 record at *p (quoted cells may hold commas, quotes, newlines) into
 * cells (malloc'ed); advances *p past its newline.  Returns the number of cells. */
static size_t csv_record(const char **p, char *cells[MAX_CELLS])
{
	size_t n = 0;
	const char *s = *p;
	for (;;) {
		assert_true(n < MAX_CELLS);
		char *c = calloc(1, strlen(s) + 1), *o = c;
		if (*s == '"') {
			for (s++;; s++) {
				assert_true(*s != '\0'); /* unterminated quote */
				if (*s == '"' && s[1] == '"')
					*o++ = *s++;
				else if (*s == '"')
					break;
				else
					*o++ = *s;
			}
			s++;
			assert_true(*s == ',' || *s == '\n'); /* nothing after the closing quote */
		} else {
			while (*s && *s != ',' && *s != '\n') {
				assert_true(*s != '"'); /* quotes only in quoted cells */
				*o++ = *s++;
			}
		}
		cells[n++] = c;
		if (*s == ',') {
			s++;
			continue;
		}
		assert_true(*s == '\n');
		*p = s + 1;
		return n;
	}
}

static void free_cells(char *cells[], size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
}

static char *csv_of(const struct mig_report *r, int header)
{
	static char buf[16384];
	memset(buf, 0, sizeof(buf));
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	if (header)
		report_csv_header(f);
	report_csv_row(r, f);
	fclose(f);
	return buf;
}

/* The header names the JSON keys, in the JSON's order; a row has as many cells. */
static void test_csv_matches_json(void **state)
{
	(void)state;
	struct mig_report r = sample();
	struct criu_dump_stats d = cold_dump();
	struct criu_restore_stats rs = cold_restore();
	report_add_dump_stats(&r, &d);
	report_add_restore_stats(&r, &rs);
	r.run = 3;
	report_set_started(&r, (time_t)1795660923);
	r.n_pre = 2;
	r.pre[0] = (struct report_pre_dump){100, 4096, 20, 5000};
	r.pre[1] = (struct report_pre_dump){50, 1024, 10, 1200};

	const char *p = csv_of(&r, 1);
	char *head[MAX_CELLS], *row[MAX_CELLS];
	size_t nh = csv_record(&p, head);
	size_t nr = csv_record(&p, row);
	assert_int_equal(nh, nr);
	assert_string_equal(p, ""); /* exactly two lines */

	char *js = report_json(&r);
	cJSON *o = cJSON_Parse(js);
	assert_int_equal(cJSON_GetArraySize(o), (int)nh);
	size_t i = 0;
	for (cJSON *it = o->child; it; it = it->next, i++) {
		assert_string_equal(head[i], it->string);
		/* Every number is the same in both. */
		if (cJSON_IsNumber(it))
			assert_float_equal(strtod(row[i], NULL), it->valuedouble, 1e-9);
		else if (cJSON_IsNull(it))
			assert_string_equal(row[i], "");
		else if (cJSON_IsString(it))
			assert_string_equal(row[i], it->valuestring);
	}
	assert_string_equal(head[0], "run");
	assert_string_equal(row[0], "3");
	assert_string_equal(head[1], "started");
	assert_string_equal(row[1], "2026-11-26T02:42:03Z");
	for (i = 0; i < nh; i++) {
		if (!strcmp(head[i], "frozen_ms"))
			assert_string_equal(row[i], "80.856");
		if (!strcmp(head[i], "forking_ms"))
			assert_string_equal(row[i], "0.420");
		if (!strcmp(head[i], "pre_dumps"))
			assert_string_equal(row[i], "2");
		if (!strcmp(head[i], "ok"))
			assert_string_equal(row[i], "true");
		if (!strcmp(head[i], "sync_ms"))
			assert_string_equal(row[i], ""); /* not measured */
		if (!strcmp(head[i], "error"))
			assert_string_equal(row[i], "");
	}
	cJSON_Delete(o);
	free(js);
	free_cells(head, nh);
	free_cells(row, nr);
}

/* An error with a comma, quotes and a newline stays one cell and comes back unchanged. */
static void test_csv_quoting(void **state)
{
	(void)state;
	struct mig_report r = sample();
	const char *msg = "restore: runc: exit 1: \"criu failed\", see\nrestore.log, line 2";
	report_fail(&r, 3, msg);
	snprintf(r.peer, sizeof(r.peer), "host,with\"odd\"name");
	const char *p = csv_of(&r, 0);
	assert_non_null(strstr(
	    p, ",\"restore: runc: exit 1: \"\"criu failed\"\", see\nrestore.log, line 2\"\n"));
	assert_non_null(strstr(p, ",\"host,with\"\"odd\"\"name\","));
	char *row[MAX_CELLS];
	size_t n = csv_record(&p, row);
	assert_string_equal(p, "");
	const char *hp = NULL;
	char hb[2048] = "";
	FILE *f = fmemopen(hb, sizeof(hb) - 1, "w");
	report_csv_header(f);
	fclose(f);
	hp = hb;
	char *head[MAX_CELLS];
	size_t nh = csv_record(&hp, head);
	assert_int_equal(n, nh);
	assert_string_equal(head[n - 1], "error");
	assert_string_equal(row[n - 1], msg);
	assert_string_equal(row[5], "host,with\"odd\"name");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(head[i], "ok"))
			assert_string_equal(row[i], "false");
	free_cells(row, n);
	free_cells(head, nh);
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

/* The other host's JSON line read back gives the same JSON: --repeat's way-back runs. */
static void test_from_json_roundtrip(void **state)
{
	(void)state;
	struct mig_report r = sample();
	struct criu_dump_stats d = cold_dump();
	struct criu_restore_stats rs = cold_restore();
	report_add_dump_stats(&r, &d);
	report_add_restore_stats(&r, &rs);
	r.run = 2;
	r.n_pre = 1;
	r.pre[0] = (struct report_pre_dump){100, 4096, 20, 5000};
	report_fail(&r, 3, "x, \"y\"");
	char *a = report_json(&r);
	struct mig_report back;
	report_init(&back, "source", "", "cold");
	struct mig_err *e = NULL;
	assert_int_equal(report_from_json(&back, a, &e), 0);
	char *b = report_json(&back);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(report_from_json(&back, "[1]", &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "not a JSON report"));
	mig_err_free(&e);
}

/* --csv: the header once, then one row per migration. */
static void test_csv_append(void **state)
{
	(void)state;
	char path[] = "/tmp/test_report.csv.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path); /* report_csv_append creates it */
	struct mig_report r = sample();
	struct mig_err *e = NULL;
	assert_int_equal(report_csv_append(path, &r, &e), 0);
	assert_int_equal(report_csv_append(path, &r, &e), 0);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[4096];
	int n = 0, headers = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		headers += !strncmp(line, "run,started,", 12);
	}
	fclose(f);
	unlink(path);
	assert_int_equal(n, 3);
	assert_int_equal(headers, 1);
	assert_int_equal(report_csv_append("/nonexistent-dir/x.csv", &r, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "--csv /nonexistent-dir/x.csv"));
	mig_err_free(&e);
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
	assert_null(strstr(buf, "CRIU")); /* no CRIU statistics: no section */
	report_fail(&r, 2, "boom");
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_print_table(&r, f);
	fclose(f);
	assert_non_null(strstr(buf, "FAILED"));
	assert_non_null(strstr(buf, "error: boom"));
}

static void test_table_criu(void **state)
{
	(void)state;
	struct mig_report r = sample();
	struct criu_dump_stats d = cold_dump();
	struct criu_restore_stats rs = cold_restore();
	report_add_dump_stats(&r, &d);
	report_add_restore_stats(&r, &rs);
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_print_table(&r, f);
	fclose(f);
	assert_non_null(strstr(buf, "CRIU's own statistics"));
	assert_non_null(strstr(buf, "frozen                80.856 ms"));
	assert_non_null(strstr(buf, "memory write           0.201 ms"));
	assert_non_null(strstr(buf, "scanned 49, written 35, same as parent 0, lazy 0"));
	assert_non_null(strstr(buf, "restore              132.573 ms"));
	assert_non_null(strstr(buf, "restored pages               33"));
	/* Pages not measured show "-". */
	r.pages_lazy = REPORT_NONE;
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_print_table(&r, f);
	fclose(f);
	assert_non_null(strstr(buf, "same as parent 0, lazy -"));
}

/* The other host's report line is a peer's data: numbers out of range (1e300, -1, huge
 * exponents) become "not measured", never undefined conversions; text with control
 * characters is escaped in the table and neutralized in CSV. */
static void test_hostile_report(void **state)
{
	(void)state;
	struct mig_report r;
	report_init(&r, "source", "c1", "cold");
	struct mig_err *e = NULL;
	assert_int_equal(
	    report_from_json(&r,
			     "{\"run\":1e300,\"exit_code\":-1e300,\"ok\":true,"
			     "\"dump_ms\":1e300,\"xfer_ms\":-1,\"frozen_ms\":1e999,"
			     "\"restore_ms\":\"NaN\",\"total_ms\":12,"
			     "\"pre_dumps\":[{\"dump_ms\":1e300,\"bytes\":5}],"
			     "\"container\":\"c1\\u001b]0;x\\u0007\",\"peer\":\"h\\u001b[2J\","
			     "\"technique\":\"cold\\u001b[H\","
			     "\"error\":\"=cmd|' /C calc'!A0\\u001b[2J\"}",
			     &e),
	    0);
	assert_int_equal(r.run, 0);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.dump_ms, REPORT_NONE);
	assert_int_equal(r.xfer_ms, REPORT_NONE);
	assert_int_equal(r.frozen_us, REPORT_NONE);
	assert_int_equal(r.restore_ms, REPORT_NONE);
	assert_int_equal(r.total_ms, 12);
	assert_int_equal(r.pre[0].dump_ms, REPORT_NONE);
	assert_int_equal(r.pre[0].bytes, 5);
	r.ok = 0;
	char buf[8192] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_print_table(&r, f);
	fclose(f);
	assert_null(strchr(buf, 0x1b));
	assert_null(strchr(buf, 0x07));
	assert_non_null(strstr(buf, "\\x1b[2J"));
	assert_non_null(strstr(buf, "container c1\\x1b]0;x\\x07, cold\\x1b[H migration"));
	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	report_csv_row(&r, f);
	fclose(f);
	assert_null(strchr(buf, 0x1b));
	assert_non_null(strstr(buf, ",\"'=cmd|' /C calc'!A0\\x1b[2J\"\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostile_report),
	    cmocka_unit_test(test_fmt_bytes),
	    cmocka_unit_test(test_json_fields),
	    cmocka_unit_test(test_json_failure_and_pre_dumps),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_json_criu_stats),
	    cmocka_unit_test(test_criu_stats_left_out),
	    cmocka_unit_test(test_started),
	    cmocka_unit_test(test_csv_matches_json),
	    cmocka_unit_test(test_csv_quoting),
	    cmocka_unit_test(test_table_criu),
	    cmocka_unit_test(test_from_json_roundtrip),
	    cmocka_unit_test(test_csv_append),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
