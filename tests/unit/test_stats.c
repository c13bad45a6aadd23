/* The decoder of CRIU's stats-dump / stats-restore files.
 *
 * Real fixtures (tests/unit/data/criu-4.1.1-*, see the README there): made on the project
 * machine by runc 1.1.15 + CRIU 4.1.1 (CRIU_FAULT=130), each with CRIU's own --display-stats
 * output of the same run next to it (display-stats-*.txt).  The tests decode the files and
 * compare every number with what CRIU itself printed, and with the values read off the
 * hex dump by hand (written out below, so a decoder and a display parser that were both
 * wrong the same way would still fail).
 *
 * Hand-decoded, criu-4.1.1-cold/stats-dump (48 bytes):
 *   40 59 10 55 | 06 33 09 57 | 24 00 00 00 | 0a 22 (dump, 34 bytes)
 *   08 ce 96 06 freezing 101198 | 10 d8 f7 04 frozen 80856 | 18 88 08 memdump 1032 |
 *   20 c9 01 memwrite 201 | 28 31 scanned 49 | 30 00 skipped_parent 0 | 38 23 written 35 |
 *   40 00 irmap 0 | 48 00 lazy 0 | 50 08 page_pipes 8 | 58 08 page_pipe_bufs 8 |
 *   60 00 68 00 70 00 shpages 0 0 0
 * The dump's pages-1.img + pages-2.img were 77824 + 65536 bytes = 35 pages: pages_written.
 * Its dump.log: "freezer.state=FROZEN" at 00.141664, "Unfreezing tasks" at 00.222699 (81.0 ms;
 * frozen_time 80.856 ms); "Writing stats" at 00.223392. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stats.h"

/* ---- where the fixtures are ------------------------------------------------------------ */

/* tests/unit/data of the source tree: MIG_TEST_DATA, else found from this binary's path
 * (BUILD/tests/test_stats, BUILD one level below the top), so the test runs from any cwd. */
static const char *data_dir(void)
{
	static char dir[PATH_MAX];
	if (dir[0])
		return dir;
	const char *env = getenv("MIG_TEST_DATA");
	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
		return dir;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	char *top = dirname(dirname(dirname(exe)));
	snprintf(dir, sizeof(dir), "%s/tests/unit/data", top);
	return dir;
}

static char *fixture(const char *rel)
{
	static char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", data_dir(), rel);
	return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s: %s", path, strerror(errno));
	static uint8_t buf[8192];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

/* The number after "label: " in CRIU's --display-stats text, or -2 when absent. */
static long long display_value(const char *text, const char *label)
{
	char key[128];
	snprintf(key, sizeof(key), "%s: ", label);
	const char *p = strstr(text, key);
	if (!p)
		return -2;
	return strtoll(p + strlen(key), NULL, 10);
}

static char *read_text(const char *path)
{
	size_t len;
	uint8_t *b = slurp(path, &len);
	char *s = malloc(len + 1);
	memcpy(s, b, len);
	s[len] = '\0';
	return s;
}

/* ---- building files for the error cases ------------------------------------------------ */

struct buf {
	uint8_t b[512];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put_u8(struct buf *b, uint8_t c)
{
	put(b, &c, 1);
}

static void put_varint(struct buf *b, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		put_u8(b, c | (v ? 0x80 : 0));
	} while (v);
}

static void put_key(struct buf *b, uint32_t field, unsigned wire)
{
	put_varint(b, ((uint64_t)field << 3) | wire);
}

static void put_vfield(struct buf *b, uint32_t field, uint64_t v)
{
	put_key(b, field, 0);
	put_varint(b, v);
}

static void put_msg(struct buf *b, uint32_t field, const struct buf *m)
{
	put_key(b, field, 2);
	put_varint(b, m->n);
	put(b, m->b, m->n);
}

/* A whole stats file around the entry bytes. */
static struct buf file_of(const struct buf *entry)
{
	struct buf f = {.n = 0};
	uint32_t h[3] = {CRIU_IMG_SERVICE_MAGIC, CRIU_STATS_MAGIC, (uint32_t)entry->n};
	put(&f, h, sizeof(h));
	put(&f, entry->b, entry->n);
	return f;
}

/* Decodes f, expects failure with a message containing want. */
static void expect_error(const struct buf *f, const char *want)
{
	struct criu_dump_stats d;
	struct criu_restore_stats r;
	struct mig_err *err = NULL;
	assert_int_equal(stats_decode(f->b, f->n, &d, &r, &err), -1);
	assert_non_null(err);
	if (!strstr(mig_err_msg(err), want))
		fail_msg("error \"%s\" does not contain \"%s\"", mig_err_msg(err), want);
	mig_err_free(&err);
}

/* ---- the real fixtures ------------------------------------------------------------------ */

static void check_dump_against_display(const struct criu_dump_stats *d, const char *txt)
{
	assert_int_equal(d->freezing_us, display_value(txt, "Freezing time"));
	assert_int_equal(d->frozen_us, display_value(txt, "Frozen time"));
	assert_int_equal(d->memdump_us, display_value(txt, "Memory dump time"));
	assert_int_equal(d->memwrite_us, display_value(txt, "Memory write time"));
	assert_int_equal(d->irmap_resolve_us, display_value(txt, "IRMAP resolve time"));
	assert_int_equal(d->pages_scanned, display_value(txt, "Memory pages scanned"));
	assert_int_equal(d->pages_skipped_parent,
			 display_value(txt, "Memory pages skipped from parent"));
	assert_int_equal(d->pages_written, display_value(txt, "Memory pages written"));
	assert_int_equal(d->pages_lazy, display_value(txt, "Lazy memory pages"));
}

static void check_restore_against_display(const struct criu_restore_stats *r, const char *txt)
{
	assert_int_equal(r->pages_compared, display_value(txt, "Pages compared"));
	assert_int_equal(r->pages_skipped_cow, display_value(txt, "Pages skipped COW"));
	assert_int_equal(r->pages_restored, display_value(txt, "Pages restored"));
	assert_int_equal(r->restore_us, display_value(txt, "Restore time"));
	assert_int_equal(r->forking_us, display_value(txt, "Forking time"));
}

static void test_real_cold_dump(void **state)
{
	(void)state;
	struct criu_dump_stats d;
	struct mig_err *err = NULL;
	if (stats_read_dump(fixture("criu-4.1.1-cold"), &d, &err) < 0)
		fail_msg("%s", mig_err_msg(err));
	assert_true(d.present);
	/* By hand, from the hex dump (see the top of this file). */
	assert_int_equal(d.freezing_us, 101198);
	assert_int_equal(d.frozen_us, 80856);
	assert_int_equal(d.memdump_us, 1032);
	assert_int_equal(d.memwrite_us, 201);
	assert_int_equal(d.irmap_resolve_us, 0);
	assert_int_equal(d.pages_scanned, 49);
	assert_int_equal(d.pages_skipped_parent, 0);
	assert_int_equal(d.pages_written, 35);
	assert_int_equal(d.pages_lazy, 0);
	assert_int_equal(d.page_pipes, 8);
	assert_int_equal(d.page_pipe_bufs, 8);
	assert_int_equal(d.shpages_scanned, 0);
	assert_int_equal(d.shpages_skipped_parent, 0);
	assert_int_equal(d.shpages_written, 0);
	assert_true(stats_dump_valid(&d));
	/* And as CRIU itself printed them for the same run. */
	char *txt = read_text(fixture("criu-4.1.1-cold/display-stats-dump.txt"));
	check_dump_against_display(&d, txt);
	free(txt);
}

static void test_real_cold_restore(void **state)
{
	(void)state;
	struct criu_restore_stats r;
	struct mig_err *err = NULL;
	if (stats_read_restore(fixture("criu-4.1.1-cold"), &r, &err) < 0)
		fail_msg("%s", mig_err_msg(err));
	assert_true(r.present);
	/* 12 0d | 08 09 | 10 02 | 18 a4 03 | 20 dd 8b 08 | 28 21 */
	assert_int_equal(r.pages_compared, 9);
	assert_int_equal(r.pages_skipped_cow, 2);
	assert_int_equal(r.forking_us, 420);
	assert_int_equal(r.restore_us, 132573);
	assert_int_equal(r.pages_restored, 33);
	char *txt = read_text(fixture("criu-4.1.1-cold/display-stats-restore.txt"));
	check_restore_against_display(&r, txt);
	free(txt);
}

/* A lazy (post-copy) migration: CRIU 4.1.1's stats-dump is empty but for a frozen time that
 * is the wall clock (CRIU printed the same); stats_dump_valid() must say so. */
static void test_real_lazy(void **state)
{
	(void)state;
	struct criu_dump_stats d;
	struct criu_restore_stats r;
	struct mig_err *err = NULL;
	if (stats_read_dump(fixture("criu-4.1.1-lazy"), &d, &err) < 0)
		fail_msg("%s", mig_err_msg(err));
	assert_int_equal(d.freezing_us, 0);
	assert_int_equal(d.frozen_us, 1951281253); /* 10 e5 e0 b8 a2 07 */
	assert_int_equal(d.pages_scanned, 0);
	assert_int_equal(d.pages_written, 0);
	assert_int_equal(d.pages_lazy, 0);
	assert_false(stats_dump_valid(&d));
	char *txt = read_text(fixture("criu-4.1.1-lazy/display-stats-dump.txt"));
	check_dump_against_display(&d, txt);
	free(txt);

	if (stats_read_restore(fixture("criu-4.1.1-lazy"), &r, &err) < 0)
		fail_msg("%s", mig_err_msg(err));
	assert_int_equal(r.pages_compared, 6);
	assert_int_equal(r.pages_skipped_cow, 2);
	assert_int_equal(r.forking_us, 391);
	assert_int_equal(r.restore_us, 121299);
	assert_int_equal(r.pages_restored, 14);
	txt = read_text(fixture("criu-4.1.1-lazy/display-stats-restore.txt"));
	check_restore_against_display(&r, txt);
	free(txt);
}

/* The restore file has no dump entry and the other way round. */
static void test_wrong_kind(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = slurp(fixture("criu-4.1.1-cold/stats-restore"), &len);
	struct criu_dump_stats d;
	struct criu_restore_stats r;
	struct mig_err *err = NULL;
	assert_int_equal(stats_decode(b, len, &d, &r, &err), 0);
	assert_false(d.present);
	assert_true(r.present);
	assert_int_equal(d.frozen_us, STATS_NONE);
	assert_int_equal(d.pages_written, STATS_NONE);
	assert_false(stats_dump_valid(&d));

	char tmpl[] = "/tmp/test_stats.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/stats-dump", tmpl);
	FILE *f = fopen(path, "wb");
	fwrite(b, 1, len, f);
	fclose(f);
	assert_int_equal(stats_read_dump(tmpl, &d, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), path));
	assert_non_null(strstr(mig_err_msg(err), "no dump entry"));
	mig_err_free(&err);
	unlink(path);
	rmdir(tmpl);
}

/* ---- broken files ----------------------------------------------------------------------- */

/* Every proper prefix of a real file fails, and never reads past its end (ASan build). */
static void test_every_truncation(void **state)
{
	(void)state;
	const char *names[] = {"criu-4.1.1-cold/stats-dump", "criu-4.1.1-cold/stats-restore"};
	for (size_t k = 0; k < 2; k++) {
		size_t len;
		uint8_t *b = slurp(fixture(names[k]), &len);
		for (size_t n = 0; n < len; n++) {
			uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
			memcpy(copy, b, n);
			struct mig_err *err = NULL;
			struct criu_dump_stats d;
			struct criu_restore_stats r;
			if (stats_decode(copy, n, &d, &r, &err) != -1)
				fail_msg("%s cut to %zu bytes decoded", names[k], n);
			const char *m = mig_err_msg(err);
			assert_true(strstr(m, "truncated") || strstr(m, "empty file"));
			mig_err_free(&err);
			free(copy);
		}
	}
}

static void test_header_errors(void **state)
{
	(void)state;
	struct buf e = {.n = 0};
	struct buf f = file_of(&e);
	f.n = 0;
	expect_error(&f, "empty file");
	f = file_of(&e);
	f.n = 3;
	expect_error(&f, "truncated: 3 bytes");
	f = file_of(&e);
	f.n = 10;
	expect_error(&f, "no entry length");

	f = file_of(&e);
	f.b[0] ^= 0xff;
	expect_error(&f, "not a CRIU service file");
	/* An ordinary image (IMG_COMMON_MAGIC + INVENTORY_MAGIC) is not a stats file either. */
	f = file_of(&e);
	uint32_t img[2] = {0x54564319, 0x58313116};
	memcpy(f.b, img, sizeof(img));
	expect_error(&f, "bad magic 0x54564319");
	f = file_of(&e);
	f.b[4] ^= 0x01;
	expect_error(&f, "not a CRIU stats file");

	/* Entry length past the end, and bytes after the entry. */
	struct buf d = {.n = 0};
	put_vfield(&d, 1, 5);
	struct buf top = {.n = 0};
	put_msg(&top, 1, &d);
	f = file_of(&top);
	f.n--;
	expect_error(&f, "truncated: entry of 4 bytes, 3 in the file");
	f = file_of(&top);
	put_u8(&f, 0);
	expect_error(&f, "1 unexpected bytes after the entry at byte 16");
}

static void test_varint_errors(void **state)
{
	(void)state;
	/* 11 continuation bytes: longer than any 64-bit varint. */
	struct buf d = {.n = 0};
	put_key(&d, 1, 0);
	for (int i = 0; i < 11; i++)
		put_u8(&d, 0x80);
	put_u8(&d, 0);
	struct buf top = {.n = 0};
	put_msg(&top, 1, &d);
	struct buf f = file_of(&top);
	expect_error(&f, "overlong varint at byte 15");

	/* Ten bytes whose last carries bits past 63. */
	d.n = 0;
	put_key(&d, 5, 0);
	for (int i = 0; i < 9; i++)
		put_u8(&d, 0xff);
	put_u8(&d, 0x02);
	top.n = 0;
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "over 64 bits");

	/* The largest 64-bit varint is well formed, but too big for a counter. */
	d.n = 0;
	put_vfield(&d, 5, UINT64_MAX);
	top.n = 0;
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "dump entry field 5 out of range");

	/* A uint32 time over 32 bits. */
	d.n = 0;
	put_vfield(&d, 2, 1ULL << 32);
	top.n = 0;
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "dump entry field 2 out of range (4294967296)");

	/* A varint cut by the end of its message (the message length says 1: the key only). */
	d.n = 0;
	put_key(&d, 1, 0);
	top.n = 0;
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "truncated varint at byte 15");

	/* Non-minimal but valid: 5 as 85 80 80 00. */
	d.n = 0;
	put_key(&d, 5, 0);
	uint8_t five[] = {0x85, 0x80, 0x80, 0x00};
	put(&d, five, sizeof(five));
	top.n = 0;
	put_msg(&top, 1, &d);
	f = file_of(&top);
	struct criu_dump_stats ds;
	struct mig_err *err = NULL;
	assert_int_equal(stats_decode(f.b, f.n, &ds, NULL, &err), 0);
	assert_int_equal(ds.pages_scanned, 5);
}

/* Fields this decoder does not know are skipped, whatever their wire type, at both levels;
 * the known ones around them still decode. */
static void test_unknown_fields(void **state)
{
	(void)state;
	struct buf d = {.n = 0}, g = {.n = 0}, top = {.n = 0};
	put_vfield(&d, 2, 1234);
	put_vfield(&d, 99, 7); /* varint */
	put_key(&d, 100, 1);   /* fixed64 */
	put(&d, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	put_msg(&d, 101, &(struct buf){.b = "abc", .n = 3}); /* bytes */
	put_key(&d, 102, 5);				     /* fixed32 */
	put(&d, "\xff\xff\xff\xff", 4);
	put_key(&d, 103, 3); /* group holding a varint and a nested group */
	put_vfield(&d, 1, 9);
	put_key(&d, 104, 3);
	put_key(&d, 104, 4);
	put_key(&d, 103, 4);
	put_vfield(&d, 7, 35);

	put_vfield(&g, 4, 55);
	put_vfield(&g, 200, 1);

	put_vfield(&top, 3, 42); /* a future top-level field */
	put_msg(&top, 1, &d);
	put_msg(&top, 9, &(struct buf){.b = "zz", .n = 2});
	put_msg(&top, 2, &g);
	struct buf f = file_of(&top);

	struct criu_dump_stats ds;
	struct criu_restore_stats rs;
	struct mig_err *err = NULL;
	if (stats_decode(f.b, f.n, &ds, &rs, &err) < 0)
		fail_msg("%s", mig_err_msg(err));
	assert_true(ds.present);
	assert_int_equal(ds.frozen_us, 1234);
	assert_int_equal(ds.pages_written, 35);
	assert_int_equal(ds.pages_scanned, STATS_NONE); /* not in the file */
	assert_true(rs.present);
	assert_int_equal(rs.restore_us, 55);
	assert_int_equal(rs.forking_us, STATS_NONE);
}

static void test_structure_errors(void **state)
{
	(void)state;
	struct buf d = {.n = 0}, top = {.n = 0}, f;

	put_key(&d, 1, 6); /* wire type 6 does not exist */
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "invalid wire type 6 at byte 14");
	top.n = 0;
	put_key(&top, 77, 7); /* an unknown field with wire type 7 */
	f = file_of(&top);
	expect_error(&f, "invalid wire type 7 at byte 12");

	d.n = top.n = 0;
	put_u8(&d, 0x00); /* field number 0 */
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "invalid field number 0");

	d.n = top.n = 0;
	put_key(&d, 2, 1); /* frozen_time as fixed64 */
	put(&d, "\0\0\0\0\0\0\0\0", 8);
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "dump entry field 2 has wire type 1, not varint");

	top.n = 0;
	put_vfield(&top, 1, 3); /* the dump entry as a number */
	f = file_of(&top);
	expect_error(&f, "dump entry has wire type 0, not a message");

	top.n = 0;
	put_key(&top, 2, 2); /* restore entry longer than the file */
	put_varint(&top, 100);
	f = file_of(&top);
	expect_error(&f, "truncated restore entry at byte 12 (100 bytes, 0 left)");

	d.n = top.n = 0;
	put_key(&d, 50, 3); /* group 50 closed as 51 */
	put_key(&d, 51, 4);
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "group 50 ends as group 51");

	d.n = top.n = 0;
	put_key(&d, 50, 3); /* never closed */
	put_vfield(&d, 1, 1);
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "unterminated group 50");

	d.n = top.n = 0;
	put_key(&d, 50, 4); /* closed, never opened */
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "end of group 50 without a start");

	d.n = top.n = 0;
	for (int i = 0; i < 40; i++) /* nested deeper than the limit */
		put_key(&d, 60, 3);
	put_msg(&top, 1, &d);
	f = file_of(&top);
	expect_error(&f, "groups nested over 16 deep");
}

/* A message given twice is merged and the last value of a field wins, as in protobuf. */
static void test_merge(void **state)
{
	(void)state;
	struct buf a = {.n = 0}, b = {.n = 0}, top = {.n = 0};
	put_vfield(&a, 1, 10);
	put_vfield(&a, 2, 20);
	put_vfield(&b, 2, 21);
	put_vfield(&b, 5, 3);
	put_msg(&top, 1, &a);
	put_msg(&top, 1, &b);
	struct buf f = file_of(&top);
	struct criu_dump_stats d;
	struct mig_err *err = NULL;
	assert_int_equal(stats_decode(f.b, f.n, &d, NULL, &err), 0);
	assert_int_equal(d.freezing_us, 10);
	assert_int_equal(d.frozen_us, 21);
	assert_int_equal(d.pages_scanned, 3);
	assert_true(stats_dump_valid(&d));
}

/* An empty entry is a valid protobuf with nothing in it. */
static void test_empty_entry(void **state)
{
	(void)state;
	struct buf e = {.n = 0};
	struct buf f = file_of(&e);
	struct criu_dump_stats d;
	struct criu_restore_stats r;
	struct mig_err *err = NULL;
	assert_int_equal(stats_decode(f.b, f.n, &d, &r, &err), 0);
	assert_false(d.present);
	assert_false(r.present);
}

/* ---- files on disk ---------------------------------------------------------------------- */

static void test_file_errors(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_stats.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char path[PATH_MAX];
	struct criu_dump_stats d;
	struct criu_restore_stats r;
	struct mig_err *err = NULL;

	/* Missing: names the file and the cause; the output is still defined. */
	d.frozen_us = 77;
	assert_int_equal(stats_read_dump(tmpl, &d, &err), -1);
	snprintf(path, sizeof(path), "CRIU stats %s/stats-dump: cannot open: No such file", tmpl);
	if (!strstr(mig_err_msg(err), path))
		fail_msg("unexpected error: %s", mig_err_msg(err));
	assert_int_equal(d.frozen_us, STATS_NONE);
	mig_err_free(&err);

	/* Empty. */
	snprintf(path, sizeof(path), "%s/stats-restore", tmpl);
	FILE *f = fopen(path, "wb");
	fclose(f);
	assert_int_equal(stats_read_restore(tmpl, &r, &err), -1);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "CRIU stats %s: empty file", path);
	assert_string_equal(mig_err_msg(err), want);
	mig_err_free(&err);

	/* Too large to be a stats file. */
	f = fopen(path, "wb");
	for (int i = 0; i < STATS_MAX_FILE + 1; i++)
		fputc(0, f);
	fclose(f);
	assert_int_equal(stats_read_restore(tmpl, &r, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "over 4096 bytes"));
	mig_err_free(&err);
	unlink(path);

	/* A FIFO must be refused, not waited on. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(stats_read_restore(tmpl, &r, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "not a regular file"));
	mig_err_free(&err);
	unlink(path);

	/* A directory of that name. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(stats_read_restore(tmpl, &r, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "not a regular file"));
	mig_err_free(&err);
	rmdir(path);
	rmdir(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_cold_dump),   cmocka_unit_test(test_real_cold_restore),
	    cmocka_unit_test(test_real_lazy),	     cmocka_unit_test(test_wrong_kind),
	    cmocka_unit_test(test_every_truncation), cmocka_unit_test(test_header_errors),
	    cmocka_unit_test(test_varint_errors),    cmocka_unit_test(test_unknown_fields),
	    cmocka_unit_test(test_structure_errors), cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_empty_entry),	     cmocka_unit_test(test_file_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
