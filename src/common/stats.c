#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A protobuf message being read: bytes [0, len) of p, which start at byte `base` of the file
 * (so that errors can name file offsets). */
struct pb {
	const uint8_t *p;
	size_t len, pos, base;
};

enum {
	WIRE_VARINT = 0,
	WIRE_I64 = 1,
	WIRE_LEN = 2,
	WIRE_SGROUP = 3,
	WIRE_EGROUP = 4,
	WIRE_I32 = 5
};

/* Unknown groups inside unknown groups: real stats files have none at all; the limit only
 * keeps hostile input from recursing deep. */
#define MAX_GROUP_DEPTH 16

/* The largest field number protobuf allows (2^29 - 1). */
#define MAX_FIELD 536870911u

static size_t at(const struct pb *b, size_t pos)
{
	return b->base + pos;
}

static int get_varint(struct pb *b, uint64_t *v, struct mig_err **err)
{
	size_t start = b->pos;
	uint64_t r = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (b->pos >= b->len)
			return mig_err_set(err, 0, "truncated varint at byte %zu", at(b, start));
		uint8_t c = b->p[b->pos++];
		/* The 10th byte holds bit 63 only: anything more is past 64 bits (or longer). */
		if (i == 9 && c > 1)
			return mig_err_set(err, 0, "overlong varint at byte %zu (over 64 bits)",
					   at(b, start));
		r |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1; /* not reached: the 10th byte either ends the varint or is refused */
}

static int need(struct pb *b, uint64_t n, const char *what, size_t start, struct mig_err **err)
{
	if (n > b->len - b->pos)
		return mig_err_set(err, 0, "truncated %s at byte %zu (%llu bytes, %zu left)", what,
				   at(b, start), (unsigned long long)n, b->len - b->pos);
	b->pos += (size_t)n;
	return 0;
}

/* Reads a field key; fails on field number 0, past protobuf's limit, or a wire type that
 * does not exist. */
static int get_key(struct pb *b, uint32_t *field, unsigned *wire, struct mig_err **err)
{
	size_t start = b->pos;
	uint64_t key;
	if (get_varint(b, &key, err) < 0)
		return -1;
	if ((key >> 3) == 0 || (key >> 3) > MAX_FIELD)
		return mig_err_set(err, 0, "invalid field number %llu at byte %zu",
				   (unsigned long long)(key >> 3), at(b, start));
	/* Wire types 6 and 7 do not exist: the bytes are not protobuf. */
	if ((key & 7) > WIRE_I32)
		return mig_err_set(err, 0, "invalid wire type %u at byte %zu", (unsigned)(key & 7),
				   at(b, start));
	*field = (uint32_t)(key >> 3);
	*wire = (unsigned)(key & 7);
	return 0;
}

/* Skips the value of a field this decoder does not know, whatever its wire type. */
static int skip_value(struct pb *b, uint32_t field, unsigned wire, size_t start, int depth,
		      struct mig_err **err)
{
	uint64_t v;
	switch (wire) {
	case WIRE_VARINT:
		return get_varint(b, &v, err);
	case WIRE_I64:
		return need(b, 8, "fixed64 field", start, err);
	case WIRE_I32:
		return need(b, 4, "fixed32 field", start, err);
	case WIRE_LEN:
		if (get_varint(b, &v, err) < 0)
			return -1;
		return need(b, v, "length-delimited field", start, err);
	case WIRE_SGROUP:
		if (depth >= MAX_GROUP_DEPTH)
			return mig_err_set(err, 0, "groups nested over %d deep at byte %zu",
					   MAX_GROUP_DEPTH, at(b, start));
		for (;;) {
			uint32_t f;
			unsigned w;
			size_t s = b->pos;
			if (b->pos >= b->len)
				return mig_err_set(err, 0, "unterminated group %u at byte %zu",
						   field, at(b, start));
			if (get_key(b, &f, &w, err) < 0)
				return -1;
			if (w == WIRE_EGROUP) {
				if (f != field)
					return mig_err_set(err, 0,
							   "group %u ends as group %u at byte %zu",
							   field, f, at(b, s));
				return 0;
			}
			if (skip_value(b, f, w, s, depth + 1, err) < 0)
				return -1;
		}
	case WIRE_EGROUP:
		return mig_err_set(err, 0, "end of group %u without a start at byte %zu", field,
				   at(b, start));
	default:
		return mig_err_set(err, 0, "invalid wire type %u at byte %zu", wire, at(b, start));
	}
}

/* A varint field of a message: its number, where it goes, and whether it is a uint32. */
struct scalar {
	uint32_t field;
	long long *dst;
	int is_u32;
};

/* Reads a message made of varint fields (both stats messages are): the fields listed in f
 * are stored (the last occurrence wins, as in protobuf), the others skipped. */
static int parse_scalars(struct pb *b, const char *msg, const struct scalar *f, size_t nf,
			 struct mig_err **err)
{
	while (b->pos < b->len) {
		size_t start = b->pos;
		uint32_t field;
		unsigned wire;
		if (get_key(b, &field, &wire, err) < 0)
			return -1;
		const struct scalar *s = NULL;
		for (size_t i = 0; i < nf; i++)
			if (f[i].field == field)
				s = &f[i];
		if (!s) {
			if (skip_value(b, field, wire, start, 0, err) < 0)
				return -1;
			continue;
		}
		if (wire != WIRE_VARINT)
			return mig_err_set(err, 0,
					   "%s field %u has wire type %u, not varint, at byte %zu",
					   msg, field, wire, at(b, start));
		uint64_t v;
		if (get_varint(b, &v, err) < 0)
			return -1;
		if ((s->is_u32 && v > UINT32_MAX) || v > LLONG_MAX)
			return mig_err_set(err, 0, "%s field %u out of range (%llu) at byte %zu",
					   msg, field, (unsigned long long)v, at(b, start));
		*s->dst = (long long)v;
	}
	return 0;
}

static int parse_dump(struct pb *b, struct criu_dump_stats *d, struct mig_err **err)
{
	const struct scalar f[] = {
	    {1, &d->freezing_us, 1},
	    {2, &d->frozen_us, 1},
	    {3, &d->memdump_us, 1},
	    {4, &d->memwrite_us, 1},
	    {5, &d->pages_scanned, 0},
	    {6, &d->pages_skipped_parent, 0},
	    {7, &d->pages_written, 0},
	    {8, &d->irmap_resolve_us, 1},
	    {9, &d->pages_lazy, 0},
	    {10, &d->page_pipes, 0},
	    {11, &d->page_pipe_bufs, 0},
	    {12, &d->shpages_scanned, 0},
	    {13, &d->shpages_skipped_parent, 0},
	    {14, &d->shpages_written, 0},
	};
	d->present = 1;
	return parse_scalars(b, "dump entry", f, sizeof(f) / sizeof(f[0]), err);
}

static int parse_restore(struct pb *b, struct criu_restore_stats *r, struct mig_err **err)
{
	const struct scalar f[] = {
	    {1, &r->pages_compared, 0}, {2, &r->pages_skipped_cow, 0}, {3, &r->forking_us, 1},
	    {4, &r->restore_us, 1},	{5, &r->pages_restored, 0},
	};
	r->present = 1;
	return parse_scalars(b, "restore entry", f, sizeof(f) / sizeof(f[0]), err);
}

static void reset_dump(struct criu_dump_stats *d)
{
	*d = (struct criu_dump_stats){0};
	d->freezing_us = d->frozen_us = d->memdump_us = d->memwrite_us = STATS_NONE;
	d->irmap_resolve_us = d->pages_scanned = d->pages_skipped_parent = STATS_NONE;
	d->pages_written = d->pages_lazy = d->page_pipes = d->page_pipe_bufs = STATS_NONE;
	d->shpages_scanned = d->shpages_skipped_parent = d->shpages_written = STATS_NONE;
}

static void reset_restore(struct criu_restore_stats *r)
{
	*r = (struct criu_restore_stats){0};
	r->pages_compared = r->pages_skipped_cow = r->forking_us = STATS_NONE;
	r->restore_us = r->pages_restored = STATS_NONE;
}

/* Either may be NULL. */
static void reset(struct criu_dump_stats *d, struct criu_restore_stats *r)
{
	if (d)
		reset_dump(d);
	if (r)
		reset_restore(r);
}

static uint32_t host_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* The header: IMG_SERVICE_MAGIC, STATS_MAGIC, entry length.  Returns the entry's offset. */
static int check_header(const uint8_t *buf, size_t len, uint32_t *entry_len, struct mig_err **err)
{
	if (len == 0)
		return mig_err_set(err, 0, "empty file");
	if (len < 4)
		return mig_err_set(err, 0, "truncated: %zu bytes, not even a magic", len);
	uint32_t m = host_u32(buf);
	if (m != CRIU_IMG_SERVICE_MAGIC)
		return mig_err_set(err, 0,
				   "bad magic 0x%08x, not a CRIU service file (expected 0x%08x)", m,
				   CRIU_IMG_SERVICE_MAGIC);
	if (len < 8)
		return mig_err_set(err, 0, "truncated: %zu bytes, no stats magic", len);
	m = host_u32(buf + 4);
	if (m != CRIU_STATS_MAGIC)
		return mig_err_set(err, 0,
				   "bad magic 0x%08x, not a CRIU stats file (expected 0x%08x)", m,
				   CRIU_STATS_MAGIC);
	if (len < 12)
		return mig_err_set(err, 0, "truncated: %zu bytes, no entry length", len);
	*entry_len = host_u32(buf + 8);
	if (*entry_len > len - 12)
		return mig_err_set(err, 0, "truncated: entry of %u bytes, %zu in the file",
				   *entry_len, len - 12);
	/* CRIU writes exactly one entry: more bytes mean the file is not what we think. */
	if (*entry_len < len - 12)
		return mig_err_set(err, 0, "%zu unexpected bytes after the entry at byte %zu",
				   len - 12 - *entry_len, (size_t)12 + *entry_len);
	return 0;
}

int stats_decode(const uint8_t *buf, size_t len, struct criu_dump_stats *dump,
		 struct criu_restore_stats *restore, struct mig_err **err)
{
	struct criu_dump_stats dtmp;
	struct criu_restore_stats rtmp;
	if (!dump)
		dump = &dtmp;
	if (!restore)
		restore = &rtmp;
	reset(dump, restore);
	uint32_t elen = 0;
	if (check_header(buf, len, &elen, err) < 0)
		return -1;
	struct pb top = {.p = buf + 12, .len = elen, .base = 12};
	while (top.pos < top.len) {
		size_t start = top.pos;
		uint32_t field;
		unsigned wire;
		if (get_key(&top, &field, &wire, err) < 0)
			return -1;
		if (field != 1 && field != 2) {
			if (skip_value(&top, field, wire, start, 0, err) < 0)
				return -1;
			continue;
		}
		const char *name = field == 1 ? "dump entry" : "restore entry";
		if (wire != WIRE_LEN)
			return mig_err_set(err, 0,
					   "%s has wire type %u, not a message, at byte %zu", name,
					   wire, at(&top, start));
		uint64_t n;
		if (get_varint(&top, &n, err) < 0)
			return -1;
		size_t body = top.pos;
		if (need(&top, n, name, start, err) < 0)
			return -1;
		/* A message given twice is merged, as protobuf does. */
		struct pb sub = {.p = top.p + body, .len = (size_t)n, .base = at(&top, body)};
		int r =
		    field == 1 ? parse_dump(&sub, dump, err) : parse_restore(&sub, restore, err);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Reads at most STATS_MAX_FILE bytes of a regular file. */
static int read_small_file(const char *path, uint8_t *buf, size_t *len, struct mig_err **err)
{
	/* O_NONBLOCK: a FIFO planted in the dir must not hang us; it is refused below, and so
	 * is a link (O_NOFOLLOW). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return mig_err_set(err, errno, "cannot open");
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return mig_err_set(err, e, "cannot stat");
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mig_err_set(err, 0, "not a regular file");
	}
	size_t n = 0;
	for (;;) {
		/* One byte more than allowed, to tell "too large" from "exactly at the limit". */
		ssize_t r = read(fd, buf + n, STATS_MAX_FILE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return mig_err_set(err, e, "cannot read");
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > STATS_MAX_FILE) {
			close(fd);
			return mig_err_set(err, 0, "over %d bytes, not a CRIU stats file",
					   STATS_MAX_FILE);
		}
	}
	close(fd);
	*len = n;
	return 0;
}

int stats_read_file(const char *path, struct criu_dump_stats *dump,
		    struct criu_restore_stats *restore, struct mig_err **err)
{
	uint8_t *buf = mig_xmalloc(STATS_MAX_FILE + 1);
	size_t len = 0;
	/* The outputs are defined (STATS_NONE) even when the file cannot be read. */
	reset(dump, restore);
	int r = read_small_file(path, buf, &len, err);
	if (r == 0)
		r = stats_decode(buf, len, dump, restore, err);
	free(buf);
	if (r < 0)
		return mig_err_wrap(err, "CRIU stats %s", path);
	return 0;
}

int stats_read_dump(const char *dir, struct criu_dump_stats *out, struct mig_err **err)
{
	char *path = mig_strdup_printf("%s/%s", dir, STATS_DUMP_FILE);
	int r = stats_read_file(path, out, NULL, err);
	if (r == 0 && !out->present)
		r = mig_err_set(err, 0, "CRIU stats %s: no dump entry in it", path);
	free(path);
	return r;
}

int stats_read_restore(const char *dir, struct criu_restore_stats *out, struct mig_err **err)
{
	char *path = mig_strdup_printf("%s/%s", dir, STATS_RESTORE_FILE);
	int r = stats_read_file(path, NULL, out, err);
	if (r == 0 && !out->present)
		r = mig_err_set(err, 0, "CRIU stats %s: no restore entry in it", path);
	free(path);
	return r;
}

int stats_dump_valid(const struct criu_dump_stats *s)
{
	return s && s->present && s->pages_scanned > 0;
}
