#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "text.h"

/* CRIU's numbers are copied as they are: "absent" must mean the same in both. */
_Static_assert(STATS_NONE == REPORT_NONE, "stats.h and report.h disagree on 'not measured'");

void report_init(struct mig_report *r, const char *role, const char *container,
		 const char *technique)
{
	memset(r, 0, sizeof(*r));
	r->role = role;
	snprintf(r->container, sizeof(r->container), "%s", container ? container : "");
	snprintf(r->technique, sizeof(r->technique), "%s", technique ? technique : "");
	r->sync_ms = r->sync_bytes = REPORT_NONE;
	r->dump_ms = r->dump_bytes = REPORT_NONE;
	r->xfer_ms = r->xfer_bytes = REPORT_NONE;
	r->restore_ms = r->downtime_ms = r->total_ms = REPORT_NONE;
	r->lazy_ms = r->lazy_bytes = r->lazy_wire_bytes = r->page_server_ms = REPORT_NONE;
	r->frozen_us = r->freezing_us = r->memdump_us = r->memwrite_us = REPORT_NONE;
	r->pages_scanned = r->pages_written = r->pages_skipped_parent = REPORT_NONE;
	r->pages_lazy = REPORT_NONE;
	r->criu_restore_us = r->forking_us = r->pages_restored = REPORT_NONE;
	report_set_started(r, time(NULL));
}

void report_set_started(struct mig_report *r, time_t t)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) ||
	    !strftime(r->started, sizeof(r->started), "%Y-%m-%dT%H:%M:%SZ", &tm))
		r->started[0] = '\0';
}

void report_add_dump_stats(struct mig_report *r, const struct criu_dump_stats *s)
{
	if (!stats_dump_valid(s))
		return;
	r->frozen_us = s->frozen_us;
	r->freezing_us = s->freezing_us;
	r->memdump_us = s->memdump_us;
	r->memwrite_us = s->memwrite_us;
	r->pages_scanned = s->pages_scanned;
	r->pages_written = s->pages_written;
	r->pages_skipped_parent = s->pages_skipped_parent;
	r->pages_lazy = s->pages_lazy;
}

void report_add_restore_stats(struct mig_report *r, const struct criu_restore_stats *s)
{
	if (!s || !s->present)
		return;
	r->criu_restore_us = s->restore_us;
	r->forking_us = s->forking_us;
	r->pages_restored = s->pages_restored;
}

void report_warn(struct mig_report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *w = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	size_t used = strlen(r->warnings);
	snprintf(r->warnings + used, sizeof(r->warnings) - used, "%s%s", used ? "; " : "", w);
	free(w);
}

void report_fail(struct mig_report *r, int exit_code, const char *error)
{
	r->ok = 0;
	r->exit_code = exit_code;
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "%s", error ? error : "failed");
}

const char *report_fmt_bytes(long long bytes, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, len, "%lld B", bytes);
		return buf;
	}
	double v = (double)bytes / 1024.0;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

/* The scalar fields of a report, in the order of the CSV columns (documented in report.h);
 * the JSON object has the same keys in the same order, so the two cannot drift apart. */
enum col_kind {
	COL_INT,   /* int, always a number */
	COL_BOOL,  /* int, true/false */
	COL_TEXT,  /* char array, a string even when "" */
	COL_STAMP, /* char array, null in JSON when "" (not known) */
	COL_ROLE,  /* the const char *role */
	COL_NUM,   /* long long, REPORT_NONE is null */
	COL_US,	   /* long long microseconds, given as milliseconds with three decimals */
	COL_PRE,   /* pre_dumps: an array in JSON, its length in CSV */
	COL_ERROR, /* error text, null when ok */
	COL_WARN,  /* warnings ("notes"), null when there were none */
};

struct col {
	const char *key;
	enum col_kind kind;
	size_t off;
};

#define COL(key, kind, field)                                 \
	{                                                     \
		key, kind, offsetof(struct mig_report, field) \
	}

static const struct col cols[] = {
    COL("run", COL_INT, run),
    COL("started", COL_STAMP, started),
    COL("role", COL_ROLE, role),
    COL("container", COL_TEXT, container),
    COL("technique", COL_TEXT, technique),
    COL("peer", COL_TEXT, peer),
    COL("criu_opts", COL_TEXT, criu_opts),
    COL("ok", COL_BOOL, ok),
    COL("exit_code", COL_INT, exit_code),
    COL("sync_ms", COL_NUM, sync_ms),
    COL("sync_bytes", COL_NUM, sync_bytes),
    COL("dump_ms", COL_NUM, dump_ms),
    COL("dump_bytes", COL_NUM, dump_bytes),
    COL("xfer_ms", COL_NUM, xfer_ms),
    COL("xfer_bytes", COL_NUM, xfer_bytes),
    COL("restore_ms", COL_NUM, restore_ms),
    COL("downtime_ms", COL_NUM, downtime_ms),
    COL("total_ms", COL_NUM, total_ms),
    COL("lazy_ms", COL_NUM, lazy_ms),
    COL("lazy_bytes", COL_NUM, lazy_bytes),
    COL("lazy_wire_bytes", COL_NUM, lazy_wire_bytes),
    COL("page_server_ms", COL_NUM, page_server_ms),
    COL("pre_dumps", COL_PRE, n_pre),
    COL("frozen_ms", COL_US, frozen_us),
    COL("freezing_ms", COL_US, freezing_us),
    COL("memdump_ms", COL_US, memdump_us),
    COL("memwrite_ms", COL_US, memwrite_us),
    COL("pages_scanned", COL_NUM, pages_scanned),
    COL("pages_written", COL_NUM, pages_written),
    COL("pages_skipped_parent", COL_NUM, pages_skipped_parent),
    COL("pages_lazy", COL_NUM, pages_lazy),
    COL("criu_restore_ms", COL_US, criu_restore_us),
    COL("forking_ms", COL_US, forking_us),
    COL("pages_restored", COL_NUM, pages_restored),
    COL("notes", COL_WARN, warnings),
    COL("error", COL_ERROR, error),
};

#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static const void *field(const struct mig_report *r, const struct col *c)
{
	return (const char *)r + c->off;
}

static long long ll_of(const struct mig_report *r, const struct col *c)
{
	return *(const long long *)field(r, c);
}

static int int_of(const struct mig_report *r, const struct col *c)
{
	return *(const int *)field(r, c);
}

static const char *text_of(const struct mig_report *r, const struct col *c)
{
	if (c->kind == COL_ROLE)
		return r->role ? r->role : "";
	return (const char *)field(r, c);
}

/* Microseconds as exact milliseconds text: 80856 -> "80.856". */
static void fmt_us_ms(long long us, char *buf, size_t len)
{
	const char *sign = us < 0 ? "-" : "";
	unsigned long long a = us < 0 ? 0ULL - (unsigned long long)us : (unsigned long long)us;
	snprintf(buf, len, "%s%llu.%03llu", sign, a / 1000, a % 1000);
}

static cJSON *pre_dumps_json(const struct mig_report *r)
{
	cJSON *pre = cJSON_CreateArray();
	for (size_t i = 0; i < r->n_pre; i++) {
		cJSON *p = cJSON_CreateObject();
		const long long v[] = {r->pre[i].dump_ms, r->pre[i].bytes, r->pre[i].xfer_ms,
				       r->pre[i].xfer_bytes};
		const char *k[] = {"dump_ms", "bytes", "xfer_ms", "xfer_bytes"};
		for (size_t j = 0; j < 4; j++) {
			if (v[j] == REPORT_NONE)
				cJSON_AddNullToObject(p, k[j]);
			else
				cJSON_AddNumberToObject(p, k[j], (double)v[j]);
		}
		cJSON_AddItemToArray(pre, p);
	}
	return pre;
}

static cJSON *col_json(const struct mig_report *r, const struct col *c)
{
	switch (c->kind) {
	case COL_INT:
		return cJSON_CreateNumber(int_of(r, c));
	case COL_BOOL:
		return cJSON_CreateBool(int_of(r, c));
	case COL_STAMP:
		if (!*text_of(r, c))
			return cJSON_CreateNull();
		return cJSON_CreateString(text_of(r, c));
	case COL_ROLE:
	case COL_TEXT:
		return cJSON_CreateString(text_of(r, c));
	case COL_NUM:
		if (ll_of(r, c) == REPORT_NONE)
			return cJSON_CreateNull();
		return cJSON_CreateNumber((double)ll_of(r, c));
	case COL_US:
		if (ll_of(r, c) == REPORT_NONE)
			return cJSON_CreateNull();
		/* us / 1000.0 prints as the exact three-decimal value (cJSON uses %.15g). */
		return cJSON_CreateNumber((double)ll_of(r, c) / 1000.0);
	case COL_PRE:
		return pre_dumps_json(r);
	case COL_ERROR:
		return r->ok ? cJSON_CreateNull() : cJSON_CreateString(r->error);
	case COL_WARN:
		return r->warnings[0] ? cJSON_CreateString(r->warnings) : cJSON_CreateNull();
	}
	return cJSON_CreateNull();
}

char *report_json(const struct mig_report *r)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < NCOLS; i++)
		cJSON_AddItemToObject(o, cols[i].key, col_json(r, &cols[i]));
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		abort();
	return s;
}

/* RFC 4180: quoted only when needed, quotes doubled. */
/* RFC 4180: quoted only when needed (a comma, a quote, a line break), quotes doubled.
 * Text from a peer is neutralized for spreadsheets: control characters other than line
 * breaks and tabs are written as \xNN, and a cell a spreadsheet would take for a formula
 * (=, +, -, @ first) gets a leading "'". */
static void csv_text(const char *s, FILE *out)
{
	int formula = s[0] && strchr("=+-@", s[0]);
	if (!formula && !strpbrk(s, ",\"\r\n")) {
		for (const unsigned char *c = (const unsigned char *)s; *c; c++)
			if (*c == '\t' || (*c >= 0x20 && *c != 0x7f))
				fputc(*c, out);
			else
				fprintf(out, "\\x%02x", *c);
		return;
	}
	fputc('"', out);
	if (formula)
		fputc('\'', out);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"')
			fputc('"', out);
		if (*c == '\t' || *c == '\r' || *c == '\n' || (*c >= 0x20 && *c != 0x7f))
			fputc(*c, out);
		else
			fprintf(out, "\\x%02x", *c);
	}
	fputc('"', out);
}

void report_csv_header(FILE *out)
{
	for (size_t i = 0; i < NCOLS; i++)
		fprintf(out, "%s%s", i ? "," : "", cols[i].key);
	fputc('\n', out);
	fflush(out);
}

void report_csv_row(const struct mig_report *r, FILE *out)
{
	for (size_t i = 0; i < NCOLS; i++) {
		const struct col *c = &cols[i];
		char b[48];
		if (i)
			fputc(',', out);
		switch (c->kind) {
		case COL_INT:
			fprintf(out, "%d", int_of(r, c));
			break;
		case COL_BOOL:
			fputs(int_of(r, c) ? "true" : "false", out);
			break;
		case COL_TEXT:
		case COL_STAMP:
		case COL_ROLE:
			csv_text(text_of(r, c), out);
			break;
		case COL_NUM:
			if (ll_of(r, c) != REPORT_NONE)
				fprintf(out, "%lld", ll_of(r, c));
			break;
		case COL_US:
			if (ll_of(r, c) != REPORT_NONE) {
				fmt_us_ms(ll_of(r, c), b, sizeof(b));
				fputs(b, out);
			}
			break;
		case COL_PRE:
			fprintf(out, "%zu", r->n_pre);
			break;
		case COL_ERROR:
			if (!r->ok)
				csv_text(r->error, out);
			break;
		case COL_WARN:
			csv_text(r->warnings, out);
			break;
		}
	}
	fputc('\n', out);
	fflush(out);
}

/* A line of text that may come from a peer, control characters escaped (text.h). */
static void print_escaped(FILE *out, const char *label, const char *text)
{
	char *safe = text_escape(text);
	fprintf(out, "%s%s\n", label, safe);
	free(safe);
}

static void row(FILE *out, const char *phase, long long ms, long long bytes)
{
	char t[32], b[32] = "";
	if (ms == REPORT_NONE && bytes == REPORT_NONE)
		return;
	if (ms == REPORT_NONE)
		snprintf(t, sizeof(t), "-");
	else
		snprintf(t, sizeof(t), "%lld ms", ms);
	if (bytes != REPORT_NONE) {
		char h[32];
		snprintf(b, sizeof(b), "%lld B (%s)", bytes, report_fmt_bytes(bytes, h, sizeof(h)));
	}
	fprintf(out, "  %-20s %12s  %s\n", phase, t, b);
}

static void us_row(FILE *out, const char *name, long long us)
{
	char t[48];
	if (us == REPORT_NONE)
		return;
	fmt_us_ms(us, t, sizeof(t));
	fprintf(out, "    %-18s %9s ms\n", name, t);
}

static const char *count(long long v, char *buf, size_t len)
{
	if (v == REPORT_NONE)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld", v);
	return buf;
}

/* CRIU's own numbers: what it measured inside the checkpoint and the restore. */
static void criu_rows(const struct mig_report *r, FILE *out)
{
	const long long dump_pages[] = {r->pages_scanned, r->pages_written, r->pages_skipped_parent,
					r->pages_lazy};
	int any_pages = 0;
	for (size_t i = 0; i < 4; i++)
		any_pages |= dump_pages[i] != REPORT_NONE;
	if (!any_pages && r->frozen_us == REPORT_NONE && r->freezing_us == REPORT_NONE &&
	    r->memdump_us == REPORT_NONE && r->memwrite_us == REPORT_NONE &&
	    r->criu_restore_us == REPORT_NONE && r->forking_us == REPORT_NONE &&
	    r->pages_restored == REPORT_NONE)
		return;
	fprintf(out, "  CRIU's own statistics\n");
	us_row(out, "frozen", r->frozen_us);
	us_row(out, "freezing", r->freezing_us);
	us_row(out, "memory dump", r->memdump_us);
	us_row(out, "memory write", r->memwrite_us);
	if (any_pages) {
		char a[24], b[24], c[24], d[24];
		fprintf(out, "    %-18s scanned %s, written %s, same as parent %s, lazy %s\n",
			"dump pages", count(r->pages_scanned, a, sizeof(a)),
			count(r->pages_written, b, sizeof(b)),
			count(r->pages_skipped_parent, c, sizeof(c)),
			count(r->pages_lazy, d, sizeof(d)));
	}
	us_row(out, "restore", r->criu_restore_us);
	us_row(out, "forking", r->forking_us);
	if (r->pages_restored != REPORT_NONE)
		fprintf(out, "    %-18s %12lld\n", "restored pages", r->pages_restored);
}

void report_print_table(const struct mig_report *r, FILE *out)
{
	/* A --repeat way-back report comes from the other host's JSON: its words are text. */
	char *who = text_escape(r->container), *tech = text_escape(r->technique),
	     *peer = text_escape(r->peer);
	fprintf(out, "%s report: container %s, %s migration%s%s: %s\n", r->role, who, tech,
		r->peer[0] ? (strcmp(r->role, "source") ? " from " : " to ") : "", peer,
		r->ok ? "ok" : "FAILED");
	free(who);
	free(tech);
	free(peer);
	if (r->criu_opts[0])
		print_escaped(out, "  CRIU options: ", r->criu_opts);
	fprintf(out, "  %-20s %12s  %s\n", "phase", "time", "size");
	row(out, "rootfs pre-sync", r->sync_ms, r->sync_bytes);
	for (size_t i = 0; i < r->n_pre; i++) {
		char name[48];
		snprintf(name, sizeof(name), "pre-dump %zu", i + 1);
		row(out, name, r->pre[i].dump_ms, r->pre[i].bytes);
		snprintf(name, sizeof(name), "pre-dump %zu xfer", i + 1);
		row(out, name, r->pre[i].xfer_ms, r->pre[i].xfer_bytes);
	}
	/* The destination sees the image it received, not the checkpoint itself. */
	int src = r->role && !strcmp(r->role, "source");
	row(out, src ? "checkpoint" : "image received", r->dump_ms, r->dump_bytes);
	row(out, "transfer", r->xfer_ms, r->xfer_bytes);
	row(out, "restore", r->restore_ms, REPORT_NONE);
	row(out, "downtime", r->downtime_ms, REPORT_NONE);
	row(out, "lazy pages", r->lazy_ms, r->lazy_bytes);
	row(out, "page server", r->page_server_ms, r->lazy_wire_bytes);
	row(out, "total", r->total_ms, REPORT_NONE);
	criu_rows(r, out);
	if (!r->ok)
		print_escaped(out, "  error: ", r->error);
	if (r->warnings[0])
		print_escaped(out, "  notes: ", r->warnings);
	fflush(out);
}

void report_print(const struct mig_report *r, int json, int verbose, FILE *out)
{
	if (json) {
		char *j = report_json(r);
		fprintf(out, "%s\n", j);
		free(j);
	} else if (verbose >= 0) {
		report_print_table(r, out);
	}
	fflush(out);
}

/* Sizes of the text fields, for copying into them safely. */
static size_t text_size(const struct col *c)
{
	if (c->off == offsetof(struct mig_report, started))
		return sizeof(((struct mig_report *)0)->started);
	if (c->off == offsetof(struct mig_report, container))
		return sizeof(((struct mig_report *)0)->container);
	if (c->off == offsetof(struct mig_report, technique))
		return sizeof(((struct mig_report *)0)->technique);
	if (c->off == offsetof(struct mig_report, peer))
		return sizeof(((struct mig_report *)0)->peer);
	if (c->off == offsetof(struct mig_report, criu_opts))
		return sizeof(((struct mig_report *)0)->criu_opts);
	if (c->off == offsetof(struct mig_report, warnings))
		return sizeof(((struct mig_report *)0)->warnings);
	return sizeof(((struct mig_report *)0)->error);
}

/* A whole number in lo..hi from the other host's report, checked before it is converted
 * (1e300 or NaN cast to an integer is undefined). */
static int json_whole(const cJSON *v, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
		return 0;
	*out = v->valuedouble;
	return 1;
}

#define REPORT_MAX_NUM 9.0e15 /* below 2^53: exact as a double, in range as a long long */

static void col_from_json(struct mig_report *r, const struct col *c, const cJSON *v)
{
	void *f = (char *)r + c->off;
	double d;
	switch (c->kind) {
	case COL_INT:
		if (json_whole(v, -1e6, 1e6, &d))
			*(int *)f = (int)d;
		break;
	case COL_BOOL:
		*(int *)f = cJSON_IsTrue(v);
		break;
	case COL_STAMP:
	case COL_TEXT:
	case COL_ERROR:
	case COL_WARN:
		if (cJSON_IsString(v))
			snprintf((char *)f, text_size(c), "%s", v->valuestring);
		break;
	case COL_NUM:
		*(long long *)f = json_whole(v, 0, REPORT_MAX_NUM, &d) ? (long long)d : REPORT_NONE;
		break;
	case COL_US:
		/* three decimals of a millisecond: round, do not truncate, 80.856 -> 80856 */
		*(long long *)f = json_whole(v, 0, REPORT_MAX_NUM / 1000, &d)
				      ? (long long)(d * 1000.0 + 0.5)
				      : REPORT_NONE;
		break;
	case COL_ROLE:
	case COL_PRE:
		break;
	}
}

int report_from_json(struct mig_report *r, const char *json, struct mig_err **err)
{
	cJSON *o = cJSON_Parse(json);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return mig_err_set(err, 0, "not a JSON report: %.80s", json);
	}
	for (size_t i = 0; i < NCOLS; i++)
		col_from_json(r, &cols[i], cJSON_GetObjectItemCaseSensitive(o, cols[i].key));
	const cJSON *pre = cJSON_GetObjectItemCaseSensitive(o, "pre_dumps");
	r->n_pre = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, pre)
	{
		if (r->n_pre >= REPORT_MAX_PRE)
			break;
		struct report_pre_dump *d = &r->pre[r->n_pre++];
		long long *v[] = {&d->dump_ms, &d->bytes, &d->xfer_ms, &d->xfer_bytes};
		const char *k[] = {"dump_ms", "bytes", "xfer_ms", "xfer_bytes"};
		for (size_t j = 0; j < 4; j++) {
			double n;
			const cJSON *x = cJSON_GetObjectItemCaseSensitive(p, k[j]);
			*v[j] = json_whole(x, 0, REPORT_MAX_NUM, &n) ? (long long)n : REPORT_NONE;
		}
	}
	cJSON_Delete(o);
	return 0;
}

int report_csv_append(const char *path, const struct mig_report *r, struct mig_err **err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return mig_err_set(err, errno, "--csv %s", path);
	/* Two loops appending to one file must not interleave their rows or both write the
	 * header. */
	struct stat st;
	FILE *f = NULL;
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0 || !(f = fdopen(fd, "a"))) {
		int e = errno;
		close(fd);
		return mig_err_set(err, e, "--csv %s", path);
	}
	if (st.st_size == 0)
		report_csv_header(f);
	report_csv_row(r, f);
	if (fclose(f) != 0)
		return mig_err_set(err, errno, "--csv %s: write", path);
	return 0;
}
